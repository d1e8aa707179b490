/* Shared by the static report (report.js) and the review app (review.js):
   number formatting, the review state of a group (its keeper, the files left out),
   how members read relative to a chosen keeper, the plan made from a review, and
   a long list drawn a chunk at a time. No DOM access but through the list helper. */
"use strict";
const ImgtwinCore = (function () {
  function humanBytes(n) {
    const units = ["B", "kB", "MB", "GB", "TB"];
    for (const unit of units) {
      if (n < 1000 || unit === "TB") return unit === "B" ? `${Math.round(n)} B` : `${n.toFixed(1)} ${unit}`;
      n /= 1000;
    }
    return "";
  }
  const count = (n) => n.toLocaleString("en-US");

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  // A page's button: never a form's submit, and what it does in data-action (the pages' click handlers read it).
  function actionButton(cls, text, action, title) {
    const button = el("button", cls, text);
    button.type = "button";
    button.dataset.action = action;
    if (title) button.title = title;
    return button;
  }

  // Dihedral transforms as 2x2 matrices on (x, y), y down: how a member's picture
  // maps from the keeper's. After a keeper change, member m relative to the new
  // keeper n is T_m * inverse(T_n) (inverse = transpose: they are orthogonal).
  // Other transforms ("crop 22%", "rotated 3°"...) cannot be composed: they are
  // restated in words. The vocabulary is open: an unknown name is shown as it is.
  const MATRICES = {
    null: [1, 0, 0, 1], mirror: [-1, 0, 0, 1], flip: [1, 0, 0, -1], rotate90: [0, 1, -1, 0],
    rotate180: [-1, 0, 0, -1], rotate270: [0, -1, 1, 0], transpose: [0, 1, 1, 0], transverse: [0, -1, -1, 0],
  };
  const transformOf = (m) => (m.transform === undefined || m.transform === "" ? null : m.transform);
  function relativeTransform(member, keeper) {
    if (member === keeper) return null;
    const a = transformOf(member), b = transformOf(keeper);
    const ma = Object.hasOwn(MATRICES, String(a)) ? MATRICES[a] : null;
    const mb = Object.hasOwn(MATRICES, String(b)) ? MATRICES[b] : null;
    if (ma && mb) {
      const [p, q, r, s] = ma, [e, f, g, h] = mb;
      const m = [p * e + q * f, p * g + q * h, r * e + s * f, r * g + s * h];  // T_m * T_n^T
      for (const [name, x] of Object.entries(MATRICES)) {
        if (x.every((v, i) => v === m[i])) return name === "null" ? null : name;
      }
    }
    if (b === null) return a;
    if (a === null) return `reverse of ${b}`;
    return `${a} (keeper: ${b})`;
  }

  // The review state of one group: {g, gi, keeper (index), excluded (Set of indices)}.
  function newState(g, gi) {
    return { g, gi, keeper: Math.max(0, g.members.findIndex((m) => m.keep)), excluded: new Set(),
             transformed: g.members.some((m) => transformOf(m) !== null) };
  }
  const isReference = (m) => m.reference === true;  // in a reference folder: never acted on
  const acted = (s, i) => i !== s.keeper && !s.excluded.has(i) && !isReference(s.g.members[i]);
  function included(s) {
    return s.g.members.map((m, i) => i).filter((i) => i === s.keeper || acted(s, i));
  }
  // Member i is the chosen keeper's own file under another name (find marks hard links to the found
  // keeper "linked"): acting on it frees nothing, as dedupe reports it "already linked".
  function linkedToKeeper(s, i) {
    const sameFile = (k) => s.g.members[k].keep === true || s.g.members[k].linked === true;
    return i !== s.keeper && sameFile(i) && sameFile(s.keeper);
  }
  function reclaimable(s) {
    return s.g.members.reduce((sum, m, i) => sum + (acted(s, i) && !linkedToKeeper(s, i) ? m.size : 0), 0);
  }
  function edited(s) {
    return s.excluded.size > 0 || !s.g.members[s.keeper].keep;
  }

  // A member as the plan and the page show it: keep flag, and distance, transform
  // and exact flag relative to the chosen keeper.
  function reviewed(s, i) {
    const m = s.g.members[i];
    const keeper = s.g.members[s.keeper];
    if (m.keep && i === s.keeper) return m;  // as found
    const out = Object.assign({}, m, {
      keep: i === s.keeper,
      // hash distance is symmetric: the found keeper is as far from the new one as the reverse
      distance: i === s.keeper ? 0 : m.keep ? keeper.distance : m.distance,
      transform: relativeTransform(m, keeper),
    });
    if (typeof m.linked === "boolean") out.linked = linkedToKeeper(s, i);
    // what matched the pair, symmetric as its distance (find --json "reason")
    if ("reason" in m) out.reason = i === s.keeper ? null : m.keep ? keeper.reason : m.reason;
    if (typeof m.exact === "boolean") {
      const found = s.g.members.find((x) => x.keep) || keeper;
      out.exact = i === s.keeper ? found.exact === true : m.keep ? keeper.exact === true
        : m.exact && keeper.exact === true;
    }
    return out;
  }

  // The counts find's summary gives besides groups, duplicates and bytes (the same rules as find).
  function totals(groups) {
    return {
      exact_copies: groups.reduce((n, g) => n + g.members.filter((m) => m.exact === true && !m.keep).length, 0),
      low_confidence: groups.filter((g) => g.keeper_confidence === "low").length,
      keeper_lacks_metadata: groups.filter((g) => Array.isArray(g.keeper_lacks) && g.keeper_lacks.length > 0).length,
      reference_only: groups.filter((g) => g.members.length > 0 && g.members.every(isReference)).length,
      linked: groups.reduce((n, g) => n + g.members.filter((m) => m.linked === true && !m.keep).length, 0),
    };
  }

  // The plan is a find --json document: keep flags as reviewed, left-out files
  // removed, groups with fewer than two files dropped, totals recomputed; any
  // other field of the document (base, ...) is kept as it was.
  function buildPlan(doc, states) {
    const groups = [];
    for (const s of states) {
      const keep = included(s);
      if (keep.length < 2) continue;
      const order = [s.keeper, ...keep.filter((i) => i !== s.keeper)];
      const members = order.map((i) => reviewed(s, i));
      const found = Object.assign({}, s.g);
      if (!s.g.members[s.keeper].keep) {  // another keeper than find's: its rule and metadata were not judged
        for (const key of ["keeper_rule", "keeper_reason", "keeper_lacks", "keeper_warning"]) delete found[key];
      }
      groups.push(Object.assign(found, {
        reclaimable_bytes: members.reduce((n, m) => n + (m.keep || isReference(m) || m.linked === true ? 0 : m.size),
                                          0),
        members,
      }));
    }
    return Object.assign({}, doc, {
      summary: Object.assign({}, doc.summary, {
        groups: groups.length,
        duplicates: groups.reduce((n, g) => n + g.members.length - 1, 0),
        reclaimable_bytes: groups.reduce((n, g) => n + g.reclaimable_bytes, 0),
        errors: doc.errors.length,
      }, "exact_copies" in (doc.summary || {}) ? totals(groups) : {}),
      groups,
      errors: doc.errors,
    });
  }

  // A list of many items drawn `chunk` at a time: more as the sentinel below it
  // comes within `ahead` px of the viewport, or when a caller needs an item.
  function chunkedList({ list, sentinel, render, key, chunk = 30, ahead = 1200 }) {
    let view = [];
    let shown = 0;
    const nodes = new Map();
    function appendChunk() {
      const fragment = document.createDocumentFragment();
      const end = Math.min(view.length, shown + chunk);
      for (; shown < end; shown++) {
        const node = render(view[shown]);
        nodes.set(key(view[shown]), node);
        fragment.append(node);
      }
      list.append(fragment);
      list.dataset.rendered = String(shown);
    }
    function fill() {
      do {
        appendChunk();
      } while (shown < view.length && sentinel.getBoundingClientRect().top < window.innerHeight + ahead);
    }
    new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting) && shown < view.length) fill();
    }, { rootMargin: `0px 0px ${ahead}px 0px` }).observe(sentinel);
    return {
      reset(items) {
        view = items;
        shown = 0;
        nodes.clear();
        list.replaceChildren();
        list.dataset.total = String(view.length);
        fill();
      },
      ensure(index) {  // draws up to item `index` of the view
        while (shown <= index && shown < view.length) appendChunk();
      },
      refresh(item) {  // draws one item again, if it is drawn
        const old = nodes.get(key(item));
        if (!old) return null;
        const fresh = render(item);
        old.replaceWith(fresh);
        nodes.set(key(item), fresh);
        return fresh;
      },
      node: (item) => nodes.get(key(item)),
      get view() { return view; },
      get shown() { return shown; },
    };
  }

  return { humanBytes, count, el, actionButton, relativeTransform, transformOf, newState, isReference, acted,
           included, linkedToKeeper, reclaimable, edited, reviewed, buildPlan, chunkedList, totals };
})();
