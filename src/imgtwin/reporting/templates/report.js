/* imgtwin review page: renders groups from the embedded find --json document,
   a chunk at a time (so 10,000 groups open quickly), lets a person change
   keepers and leave files out, and exports the result as a find --json plan.
   All data reaches the DOM through textContent and attributes, never HTML. */
"use strict";
(function () {
  const CHUNK = 30;              // groups appended per step
  const AHEAD = "1200px";        // render this far below the viewport
  const data = JSON.parse(document.getElementById("imgtwin-data").textContent);
  const doc = data.document;
  const thumbs = data.thumbnails;

  // Review state per group: the keeper's index and the members left out.
  const groups = doc.groups.map((g, gi) => ({
    g,
    gi,
    keeper: Math.max(0, g.members.findIndex((m) => m.keep)),
    excluded: new Set(),
    transformed: g.members.some((m) => m.transform),
  }));

  const $ = (id) => document.getElementById(id);
  const list = $("groups");
  const sentinel = $("sentinel");
  let view = [];      // group states in display order after filter and sort
  let shown = 0;      // how many of view are in the DOM
  const nodes = new Map();  // group index -> rendered element

  function humanBytes(n) {
    const units = ["B", "kB", "MB", "GB", "TB"];
    for (const unit of units) {
      if (n < 1000 || unit === "TB") return unit === "B" ? `${Math.round(n)} B` : `${n.toFixed(1)} ${unit}`;
      n /= 1000;
    }
    return "";
  }
  const count = (n) => n.toLocaleString("en-US");

  // Transforms as 2x2 matrices on (x, y), y down: how a member's picture maps
  // from the keeper's. After a keeper change, member m relative to the new
  // keeper n is T_m * inverse(T_n) (inverse = transpose: they are orthogonal).
  const MATRICES = {
    null: [1, 0, 0, 1], mirror: [-1, 0, 0, 1], flip: [1, 0, 0, -1], rotate90: [0, 1, -1, 0],
    rotate180: [-1, 0, 0, -1], rotate270: [0, -1, 1, 0], transpose: [0, 1, 1, 0], transverse: [0, -1, -1, 0],
  };
  function relativeTransform(member, keeper) {
    const [a, b, c, d] = MATRICES[member.transform] || MATRICES.null;
    const [e, f, g, h] = MATRICES[keeper.transform] || MATRICES.null;
    const m = [a * e + b * f, a * g + b * h, c * e + d * f, c * g + d * h];  // T_m * T_n^T
    for (const [name, x] of Object.entries(MATRICES)) {
      if (x.every((v, i) => v === m[i])) return name === "null" ? null : name;
    }
    return member.transform;
  }
  // A member as the plan and the page show it: keep flag, and transform relative to the chosen keeper.
  function reviewed(s, i) {
    const m = s.g.members[i];
    const keeper = s.g.members[s.keeper];
    if (m.keep && i === s.keeper) return m;  // as found
    return Object.assign({}, m, {
      keep: i === s.keeper,
      // hash distance is symmetric: the found keeper is as far from the new one as the reverse
      distance: i === s.keeper ? 0 : m.keep ? keeper.distance : m.distance,
      transform: relativeTransform(m, keeper),
    });
  }

  function included(s) {
    return s.g.members.map((m, i) => i).filter((i) => i === s.keeper || !s.excluded.has(i));
  }
  function reclaimable(s) {
    return included(s).reduce((sum, i) => sum + (i === s.keeper ? 0 : s.g.members[i].size), 0);
  }
  function edited(s) {
    return s.excluded.size > 0 || !s.g.members[s.keeper].keep;
  }

  // ---- summary ------------------------------------------------------------
  function setValue(key, value, text) {
    const el = document.querySelector(`#summary [data-key="${key}"]`);
    el.dataset.value = String(value);
    el.textContent = text;
  }
  function renderSummary() {
    const files = doc.groups.reduce((n, g) => n + g.members.length, 0);
    const bytes = doc.groups.reduce((n, g) => n + g.reclaimable_bytes, 0);
    setValue("groups", doc.groups.length, count(doc.groups.length));
    setValue("files", files, count(files));
    setValue("duplicates", files - doc.groups.length, count(files - doc.groups.length));
    setValue("reclaimable_bytes", bytes, humanBytes(bytes));
    setValue("errors", doc.errors.length, count(doc.errors.length));
    $("source").textContent = data.source;
    const counts = {
      all: groups.length,
      exact: groups.filter((s) => s.g.category === "exact").length,
      near: groups.filter((s) => s.g.category === "near").length,
      transformed: groups.filter((s) => s.transformed).length,
    };
    for (const [key, n] of Object.entries(counts)) {
      const el = document.querySelector(`[data-count="${key}"]`);
      el.dataset.value = String(n);
      el.textContent = count(n);
    }
  }
  function renderPlanLine() {
    const changed = groups.filter(edited);
    const plan = buildPlan();
    const el = $("plan");
    el.classList.toggle("changed", changed.length > 0);
    el.dataset.edited = String(changed.length);
    el.textContent = changed.length
      ? `Your plan: ${count(changed.length)} group(s) changed; ${count(plan.summary.groups)} groups, ` +
        `${count(plan.summary.duplicates)} files to remove, ${humanBytes(plan.summary.reclaimable_bytes)} reclaimable.`
      : "No changes yet: the plan equals what imgtwin found.";
  }

  // ---- one group ----------------------------------------------------------
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function thumbFor(s, i) {
    const m = s.g.members[i];
    const name = thumbs.names[s.gi][i];
    const button = el("button", "thumb");
    button.type = "button";
    button.title = i === s.keeper ? "Keeper" : "Make this the keeper";
    button.dataset.action = "keep";
    const placeholder = () => {
      button.replaceChildren(el("span", "placeholder", "no preview"));
    };
    if (!name) {
      placeholder();
    } else {
      const img = el("img");
      img.loading = "lazy";
      img.decoding = "async";
      img.alt = m.path;
      img.src = `${thumbs.dir}/${name}`;
      if (m.width && m.height) {  // reserve the box so the page does not jump
        const k = Math.min(160 / m.width, 160 / m.height, 1);
        img.width = Math.max(1, Math.round(m.width * k));
        img.height = Math.max(1, Math.round(m.height * k));
      }
      img.addEventListener("error", placeholder, { once: true });
      button.append(img);
    }
    return button;
  }

  function memberNode(s, i) {
    const m = reviewed(s, i);
    const isKeeper = i === s.keeper;
    const li = el("li", "member");
    li.dataset.path = m.path;
    li.dataset.index = String(i);
    li.dataset.keep = String(isKeeper);
    li.dataset.included = String(isKeeper || !s.excluded.has(i));
    li.classList.toggle("keeper", isKeeper);
    li.classList.toggle("excluded", !isKeeper && s.excluded.has(i));
    li.append(thumbFor(s, i));

    const meta = el("div", "meta");
    const row = el("div", "row");
    const label = el("label");
    const box = el("input");
    box.type = "checkbox";
    box.checked = isKeeper || !s.excluded.has(i);
    box.disabled = isKeeper;
    box.dataset.action = "include";
    box.title = isKeeper ? "The keeper is always kept" : "Include in the plan";
    label.append(box, document.createTextNode(" include"));
    row.append(label);
    if (isKeeper) row.append(el("span", "badge keep", "keep"));
    const cut = Math.max(m.path.lastIndexOf("/"), m.path.lastIndexOf("\\")) + 1;
    const path = el("div", "path");
    path.title = m.path;
    path.append(el("span", "dir", m.path.slice(0, cut)), el("span", "name", m.path.slice(cut)));
    meta.append(row, path);
    const dims = m.width && m.height ? `${m.width}×${m.height}` : "?×?";
    const detail = el("div", "detail", `${dims} · ${humanBytes(m.size)} · ${m.format || "?"} · distance ${m.distance}`);
    if (m.transform) detail.append(" · ", el("span", "transform", m.transform));
    meta.append(detail);
    li.append(meta);
    return li;
  }

  function groupNode(s) {
    const g = s.g;
    const section = el("section", "group");
    section.dataset.groupId = String(g.id);
    section.dataset.index = String(s.gi);
    section.dataset.category = g.category;
    section.dataset.transformed = String(s.transformed);
    section.dataset.reclaimable = String(reclaimable(s));
    const head = el("header");
    head.append(el("h2", "", `Group ${g.id}`), el("span", `badge ${g.category}`, g.category));
    if (s.transformed) head.append(el("span", "badge transformed", "rotated/mirrored"));
    head.append(el("span", "facts", `${g.members.length} files · ${humanBytes(reclaimable(s))} reclaimable`));
    const ol = el("ol", "members");
    // keeper first, the others as found
    ol.append(memberNode(s, s.keeper));
    g.members.forEach((_, i) => { if (i !== s.keeper) ol.append(memberNode(s, i)); });
    section.append(head, ol);
    return section;
  }

  function refreshGroup(s) {
    const old = nodes.get(s.gi);
    if (!old) return;
    const fresh = groupNode(s);
    old.replaceWith(fresh);
    nodes.set(s.gi, fresh);
    renderPlanLine();
  }

  // ---- the list: filter, sort, incremental rendering -----------------------
  const filters = {
    all: () => true,
    exact: (s) => s.g.category === "exact",
    near: (s) => s.g.category === "near",
    transformed: (s) => s.transformed,
  };
  const sorts = {
    reclaimable: (a, b) => reclaimable(b) - reclaimable(a) || a.g.id - b.g.id,
    size: (a, b) => b.g.members.length - a.g.members.length || reclaimable(b) - reclaimable(a) || a.g.id - b.g.id,
    id: (a, b) => a.g.id - b.g.id,
  };

  function rebuild() {
    const filter = document.querySelector('input[name="filter"]:checked').value;
    const sort = $("sort").value;
    view = groups.filter(filters[filter]).sort(sorts[sort]);
    shown = 0;
    nodes.clear();
    list.replaceChildren();
    list.dataset.filter = filter;
    list.dataset.sort = sort;
    list.dataset.total = String(view.length);
    $("empty").hidden = view.length > 0;
    $("status").textContent = `Showing ${count(view.length)} of ${count(groups.length)} groups`;
    fill();
  }

  function appendChunk() {
    const fragment = document.createDocumentFragment();
    const end = Math.min(view.length, shown + CHUNK);
    for (; shown < end; shown++) {
      const node = groupNode(view[shown]);
      nodes.set(view[shown].gi, node);
      fragment.append(node);
    }
    list.append(fragment);
    list.dataset.rendered = String(shown);
  }

  // Append chunks until the sentinel is beyond the render-ahead margin.
  function fill() {
    const margin = parseInt(AHEAD, 10);
    do {
      appendChunk();
    } while (shown < view.length && sentinel.getBoundingClientRect().top < window.innerHeight + margin);
  }

  new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting) && shown < view.length) fill();
  }, { rootMargin: `0px 0px ${AHEAD} 0px` }).observe(sentinel);

  // ---- review actions -------------------------------------------------------
  list.addEventListener("click", (event) => {
    const target = event.target.closest("[data-action]");
    if (!target || target.dataset.action !== "keep") return;
    const li = target.closest(".member");
    const s = groups[Number(li.closest(".group").dataset.index)];
    const i = Number(li.dataset.index);
    if (i === s.keeper) return;
    s.keeper = i;
    s.excluded.delete(i);  // a keeper is always part of the plan
    refreshGroup(s);
  });
  list.addEventListener("change", (event) => {
    const box = event.target;
    if (box.dataset.action !== "include") return;
    const li = box.closest(".member");
    const s = groups[Number(li.closest(".group").dataset.index)];
    const i = Number(li.dataset.index);
    if (box.checked) s.excluded.delete(i); else s.excluded.add(i);
    refreshGroup(s);
  });

  // ---- export ---------------------------------------------------------------
  // The plan is a find --json document: keep flags as reviewed, left-out files
  // removed, groups with fewer than two files dropped, totals recomputed.
  function buildPlan() {
    const planGroups = [];
    for (const s of groups) {
      const keep = included(s);
      if (keep.length < 2) continue;
      const order = [s.keeper, ...keep.filter((i) => i !== s.keeper)];
      const members = order.map((i) => reviewed(s, i));
      planGroups.push({
        id: s.g.id,
        category: s.g.category,
        reclaimable_bytes: members.reduce((n, m) => n + (m.keep ? 0 : m.size), 0),
        members,
      });
    }
    return {
      tool: doc.tool,
      version: doc.version,
      threshold: doc.threshold,
      rotations: doc.rotations,
      summary: {
        groups: planGroups.length,
        duplicates: planGroups.reduce((n, g) => n + g.members.length - 1, 0),
        reclaimable_bytes: planGroups.reduce((n, g) => n + g.reclaimable_bytes, 0),
        errors: doc.errors.length,
      },
      groups: planGroups,
      errors: doc.errors,
    };
  }

  $("export").addEventListener("click", () => {
    const plan = buildPlan();
    const blob = new Blob([JSON.stringify(plan, null, 1) + "\n"], { type: "application/json" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = data.plan_name;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 60000);
    $("status").textContent = `Exported ${data.plan_name}: ${count(plan.summary.groups)} groups, ` +
      `${count(plan.summary.duplicates)} files to remove`;
  });

  // ---- errors (rendered when opened) ----------------------------------------
  const errorBox = $("errors");
  if (doc.errors.length) {
    errorBox.hidden = false;
    $("error-count").textContent = count(doc.errors.length);
    errorBox.addEventListener("toggle", () => {
      const ol = $("error-list");
      if (!errorBox.open || ol.childElementCount) return;
      const fragment = document.createDocumentFragment();
      for (const e of doc.errors) fragment.append(el("li", "", `${e.path}: ${e.reason}: ${e.message}`));
      ol.append(fragment);
    });
  }

  for (const input of document.querySelectorAll('input[name="filter"]')) input.addEventListener("change", rebuild);
  $("sort").addEventListener("change", rebuild);
  renderSummary();
  rebuild();
  renderPlanLine();
  document.documentElement.dataset.ready = "true";
  performance.mark("imgtwin-rendered");
})();
