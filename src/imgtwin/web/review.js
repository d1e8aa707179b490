/* imgtwin review app: the live page of `imgtwin review`.
   It follows the server through server-sent events (scan progress, groups,
   per-file outcomes of apply and undo), draws the groups a chunk at a time
   with the report's shared core (groups-core.js), and sends decisions as file
   ids, never paths. Data reaches the DOM through textContent and attributes only. */
"use strict";
(function () {
  const C = ImgtwinCore;
  const { el, count, humanBytes } = C;
  const $ = (id) => document.getElementById(id);
  const token = document.querySelector('meta[name="imgtwin-token"]').content;
  const root = document.documentElement;

  // ---- talking to the server ----------------------------------------------------------------
  async function getJSON(path) {
    const response = await fetch(path, { cache: "no-store", credentials: "same-origin" });
    if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
    return response.json();
  }
  async function post(path, body) {
    const response = await fetch(path, {
      method: "POST", credentials: "same-origin", cache: "no-store",
      headers: { "content-type": "application/json", "x-imgtwin-token": token },
      body: JSON.stringify(body === undefined ? {} : body),
    });
    let data = null;
    try { data = await response.json(); } catch (e) { data = { error: response.statusText }; }
    return { ok: response.ok, status: response.status, data };
  }

  // ---- review state -------------------------------------------------------------------------
  // Decisions are kept by file id, so they survive a rescan (ids depend on the path only).
  const chosenKeepers = new Set();   // ids the reviewer made keepers
  const leftOut = new Set();         // ids the reviewer excluded
  const outcomeOf = new Map();       // id -> {status, reason} from the last apply
  let doc = { groups: [], errors: [], summary: {} };
  let ids = [];
  let version = 0;
  let states = [];
  let busy = null;
  let phase = "idle";
  let job = null;
  let current = -1;                  // index in the drawn view
  let focusIndex = 0;                // member index in the current group

  const list = $("groups");
  const drawn = C.chunkedList({ list, sentinel: $("sentinel"), render: groupNode, key: (s) => s.gi });

  function fileId(s, i) { return ids[s.gi][i]; }

  function install(data) {
    doc = data.document;
    ids = data.ids;
    version = data.version;
    states = doc.groups.map((g, gi) => {
      const s = C.newState(g, gi);
      const fids = ids[gi];
      const chosen = fids.findIndex((id) => chosenKeepers.has(id));
      if (chosen >= 0) s.keeper = chosen;
      fids.forEach((id, i) => { if (leftOut.has(id) && i !== s.keeper) s.excluded.add(i); });
      return s;
    });
    outcomeOf.clear();
    $("notes").hidden = !data.notes.length;
    $("notes").textContent = data.notes.join(" ");
    renderSummary();
    renderErrors();
    rebuild();
    root.dataset.version = String(version);
    performance.mark(`imgtwin-groups-${version}`);
  }

  // ---- summary, counts, plan line -------------------------------------------------------------
  function setValue(key, value, text) {
    const node = document.querySelector(`#summary [data-key="${key}"]`);
    node.dataset.value = String(value);
    node.textContent = text;
  }
  function renderSummary() {
    const files = doc.groups.reduce((n, g) => n + g.members.length, 0);
    setValue("groups", doc.groups.length, count(doc.groups.length));
    setValue("files", files, count(files));
    setValue("duplicates", files - doc.groups.length, count(files - doc.groups.length));
    const bytes = doc.groups.reduce((n, g) => n + g.reclaimable_bytes, 0);
    setValue("reclaimable_bytes", bytes, humanBytes(bytes));
    setValue("errors", doc.errors.length, count(doc.errors.length));
    const hasConfidence = doc.groups.some((g) => g.keeper_confidence !== undefined);
    document.querySelector('[data-needs="confidence"]').hidden = !hasConfidence;
    renderCounts();
  }
  function renderCounts() {
    for (const [key, test] of Object.entries(filters)) {
      const node = document.querySelector(`[data-count="${key}"]`);
      if (!node) continue;
      const n = key === "all" ? states.length : states.filter(test).length;
      node.dataset.value = String(n);
      node.textContent = count(n);
    }
  }

  function decisions() {
    const groups = [];
    for (const s of states) {
      const act = [];
      s.g.members.forEach((m, i) => {
        const id = fileId(s, i);
        if (C.acted(s, i) && outcomeOf.get(id)?.status !== "done") act.push(id);
      });
      if (act.length) groups.push({ id: s.g.id, keep: fileId(s, s.keeper), act });
    }
    return groups;
  }

  let planPending = false;
  function renderPlanLine() {
    if (planPending) return;
    planPending = true;
    requestAnimationFrame(() => {
      planPending = false;
      let files = 0, bytes = 0, groups = 0;
      for (const s of states) {
        let n = 0;
        s.g.members.forEach((m, i) => { if (C.acted(s, i)) { n++; bytes += m.size; } });
        if (n) { groups++; files += n; }
      }
      const edited = states.filter(C.edited).length;
      const line = $("plan");
      line.dataset.files = String(files);
      line.dataset.edited = String(edited);
      line.textContent = version === 0 ? "" :
        `Plan: ${count(files)} file(s) in ${count(groups)} group(s), ${humanBytes(bytes)}` +
        (edited ? ` · you changed ${count(edited)} group(s)` : " · as found") +
        ". Keepers and excluded files are never touched.";
      updateButtons();
    });
  }

  // ---- one group -----------------------------------------------------------------------------
  function thumbFor(s, i) {
    const m = s.g.members[i];
    const button = el("button", "thumb");
    button.type = "button";
    button.dataset.action = "keep";
    button.title = i === s.keeper ? "Keeper" : "Make this the keeper";
    const img = el("img");
    img.loading = "lazy";
    img.decoding = "async";
    img.alt = m.path;
    img.src = `/files/${fileId(s, i)}/thumb`;
    if (m.width && m.height) {  // reserve the box so the page does not jump
      const k = Math.min(160 / m.width, 160 / m.height, 1);
      img.width = Math.max(1, Math.round(m.width * k));
      img.height = Math.max(1, Math.round(m.height * k));
    }
    img.addEventListener("error", () => button.replaceChildren(el("span", "placeholder", "no preview")), { once: true });
    button.append(img);
    return button;
  }

  function memberNode(s, i) {
    const m = C.reviewed(s, i);
    const isKeeper = i === s.keeper;
    const reference = !isKeeper && C.isReference(m);
    const id = fileId(s, i);
    const li = el("li", "member");
    li.dataset.path = m.path;
    li.dataset.file = id;
    li.dataset.index = String(i);
    li.dataset.keep = String(isKeeper);
    li.dataset.included = String(isKeeper || C.acted(s, i));
    li.classList.toggle("keeper", isKeeper);
    li.classList.toggle("excluded", !isKeeper && !C.acted(s, i));
    const outcome = outcomeOf.get(id);
    if (outcome) li.dataset.outcome = outcome.status;
    if (s === currentState() && i === focusIndex) li.classList.add("focused");
    li.append(thumbFor(s, i));

    const meta = el("div", "meta");
    const row = el("div", "row");
    const label = el("label");
    const box = el("input");
    box.type = "checkbox";
    box.checked = isKeeper || C.acted(s, i);
    box.disabled = isKeeper || reference;
    box.dataset.action = "include";
    box.title = isKeeper ? "The keeper is always kept" : reference ? "In a reference folder: never touched"
      : "Act on this file";
    label.append(box, document.createTextNode(" include"));
    row.append(label);
    if (isKeeper) row.append(el("span", "badge keep", "keep"));
    if (m.exact === true && !isKeeper) row.append(el("span", "badge exact-copy", "exact"));
    if (C.linkedToKeeper(s, i)) row.append(el("span", "badge exact-copy", "hard link"));
    if (C.isReference(m)) row.append(el("span", "badge reference", "reference"));
    const compare = el("button", "compare-link", "compare");
    compare.type = "button";
    compare.dataset.action = "compare";
    compare.title = "Compare with the keeper at full size (c)";
    row.append(compare);
    meta.append(row, pathNode(m.path));
    const dims = m.width && m.height ? `${m.width}×${m.height}` : "?×?";
    const detail = el("div", "detail", `${dims} · ${humanBytes(m.size)} · ${m.format || "?"}`);
    if (!isKeeper) detail.append(` · distance ${m.distance}`);
    if (m.transform) detail.append(" · ", el("span", "transform", String(m.transform)));
    meta.append(detail);
    if (outcome) meta.append(el("div", "outcome", outcome.reason ? `${outcome.status}: ${outcome.reason}` : outcome.status));
    li.append(meta);
    return li;
  }

  // Paths as the page shows them: below the scanned folder they lie in (the header names it).
  let roots = [];
  function shown(path) {
    const folder = roots.find((r) => path.startsWith(r.endsWith("/") ? r : `${r}/`));
    if (!folder || roots.length !== 1) return path;
    return path.slice(folder.length).replace(/^\//, "");
  }
  function pathNode(full) {
    const text = shown(full);
    const cut = Math.max(text.lastIndexOf("/"), text.lastIndexOf("\\")) + 1;
    const path = el("div", "path");
    path.title = full;
    path.append(el("span", "dir", text.slice(0, cut)), el("span", "name", text.slice(cut)));
    return path;
  }

  function groupNode(s) {
    const g = s.g;
    const section = el("section", "group");
    section.dataset.groupId = String(g.id);
    section.dataset.index = String(s.gi);
    section.dataset.category = g.category;
    section.dataset.transformed = String(s.transformed);
    section.dataset.reclaimable = String(C.reclaimable(s));
    if (g.keeper_confidence !== undefined) section.dataset.confidence = String(g.keeper_confidence);
    if (s === currentState()) section.classList.add("current");
    const head = el("header");
    head.append(el("h2", "", `Group ${g.id}`), el("span", `badge ${g.category}`, g.category));
    if (g.keeper_confidence === "low") {
      const badge = el("span", "badge low", "unsure keeper");
      badge.title = "imgtwin could not tell which copy is best: check the keeper";
      head.append(badge);
    }
    if (s.transformed) head.append(el("span", "badge transformed", "transformed"));
    head.append(el("span", "facts", `${g.members.length} files · ${humanBytes(C.reclaimable(s))} reclaimable`));
    const ol = el("ol", "members");
    ol.append(memberNode(s, s.keeper));  // keeper first, the others as found
    g.members.forEach((_, i) => { if (i !== s.keeper) ol.append(memberNode(s, i)); });
    section.append(head, ol);
    return section;
  }

  function redraw(s) {
    drawn.refresh(s);
    renderPlanLine();
  }

  // ---- review actions ------------------------------------------------------------------------
  function makeKeeper(s, i) {
    if (i === s.keeper) return;
    s.g.members.forEach((_, k) => chosenKeepers.delete(fileId(s, k)));
    if (!s.g.members[i].keep) chosenKeepers.add(fileId(s, i));
    leftOut.delete(fileId(s, i));
    s.keeper = i;
    s.excluded.delete(i);
    redraw(s);
  }
  function setIncluded(s, i, on) {
    if (i === s.keeper || C.isReference(s.g.members[i])) return;
    if (on) { s.excluded.delete(i); leftOut.delete(fileId(s, i)); }
    else { s.excluded.add(i); leftOut.add(fileId(s, i)); }
    redraw(s);
  }
  function stateOf(target) {
    const section = target.closest(".group");
    return section ? states[Number(section.dataset.index)] : null;
  }
  list.addEventListener("click", (event) => {
    const section = event.target.closest(".group");
    if (!section) return;
    const s = states[Number(section.dataset.index)];
    const li = event.target.closest(".member");
    setCurrent(drawn.view.indexOf(s), li ? Number(li.dataset.index) : undefined, false);
    const target = event.target.closest("[data-action]");
    if (!target || !li) return;
    const i = Number(li.dataset.index);
    if (target.dataset.action === "keep") makeKeeper(s, i);
    else if (target.dataset.action === "compare") openCompare(s, i);
  });
  list.addEventListener("change", (event) => {
    const box = event.target;
    if (box.dataset.action !== "include") return;
    setIncluded(stateOf(box), Number(box.closest(".member").dataset.index), box.checked);
  });

  // ---- the list: filter, sort, search, current group -----------------------------------------
  const maxDistance = (s) => s.g.members.reduce((d, m) => Math.max(d, m.distance || 0), 0);
  const filters = {
    all: () => true,
    exact: (s) => s.g.category === "exact",
    near: (s) => s.g.category === "near",
    transformed: (s) => s.transformed,
    low: (s) => s.g.keeper_confidence === "low",
    edited: (s) => C.edited(s),
  };
  // Sort keys, computed once per item and sort (not once per comparison: 10,000 groups).
  const sortKeys = {
    reclaimable: (s) => [-C.reclaimable(s), s.g.id],
    size: (s) => [-s.g.members.length, -C.reclaimable(s), s.g.id],
    distance: (s) => [-maxDistance(s), s.g.id],
    id: (s) => [s.g.id],
  };
  function sorted(items, sort) {
    const keyed = items.map((s) => [sortKeys[sort](s), s]);
    keyed.sort((a, b) => {
      for (let k = 0; k < a[0].length; k++) if (a[0][k] !== b[0][k]) return a[0][k] - b[0][k];
      return 0;
    });
    return keyed.map((pair) => pair[1]);
  }
  function rebuild() {
    const filter = document.querySelector('input[name="filter"]:checked').value;
    const sort = $("sort").value;
    const needle = $("search").value.trim().toLowerCase();
    const keep = current >= 0 ? currentState() : null;
    let view = states.filter(filters[filter]);
    if (needle) view = view.filter((s) => s.g.members.some((m) => m.path.toLowerCase().includes(needle)));
    view = sorted(view, sort);
    list.dataset.filter = filter;
    list.dataset.sort = sort;
    current = keep ? view.indexOf(keep) : -1;
    $("empty").hidden = view.length > 0 || version === 0;
    drawn.reset(view);
    renderPlanLine();
  }
  for (const input of document.querySelectorAll('input[name="filter"]')) input.addEventListener("change", rebuild);
  $("sort").addEventListener("change", rebuild);
  let searchTimer = 0;
  $("search").addEventListener("input", () => { clearTimeout(searchTimer); searchTimer = setTimeout(rebuild, 150); });

  function currentState() { return current >= 0 ? drawn.view[current] : null; }
  function setCurrent(index, member, scroll = true) {
    const view = drawn.view;
    if (!view.length) return;
    index = Math.max(0, Math.min(view.length - 1, index));
    const before = currentState();
    const changed = index !== current;
    current = index;
    const s = view[index];
    if (member !== undefined) focusIndex = member;
    else if (changed) focusIndex = s.g.members.findIndex((m, i) => i !== s.keeper);
    focusIndex = Math.max(0, Math.min(s.g.members.length - 1, focusIndex));
    drawn.ensure(index);
    const node = markCurrent(before, s);
    root.dataset.currentGroup = String(s.g.id);
    root.dataset.focusedFile = ids[s.gi][focusIndex];
    if (scroll && node) {
      const focused = node.querySelector(".member.focused");
      (focused || node).scrollIntoView({ block: "nearest" });
      if (changed) node.scrollIntoView({ block: "nearest" });
    }
  }
  function markCurrent(before, s) {  // classes only: no redraw, no flicker
    for (const old of list.querySelectorAll(".group.current, .member.focused")) old.classList.remove("current", "focused");
    const node = drawn.node(s);
    if (!node) return null;
    node.classList.add("current");
    const member = node.querySelector(`.member[data-index="${focusIndex}"]`);
    if (member) member.classList.add("focused");
    return node;
  }
  function focusedOrder(s) {  // members in the order shown: keeper first
    return [s.keeper, ...s.g.members.map((_, i) => i).filter((i) => i !== s.keeper)];
  }
  function moveFocus(step) {
    const s = currentState();
    if (!s) { setCurrent(0); return; }
    const order = focusedOrder(s);
    const at = order.indexOf(focusIndex);
    setCurrent(current, order[Math.max(0, Math.min(order.length - 1, at + step))]);
  }

  // ---- keyboard ------------------------------------------------------------------------------
  function typing(target) {
    return target.closest("input, select, textarea") && !(target.type === "checkbox" || target.type === "radio");
  }
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if ($("compare").open) { compareKey(event); return; }
    if ($("help").open || $("confirm").open) return;  // the dialog handles Esc itself
    if (typing(event.target)) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    const s = currentState();
    const keys = {
      "?": () => $("help").showModal(),
      "j": () => setCurrent(current + 1), "ArrowDown": () => setCurrent(current + 1),
      "k": () => setCurrent(current - 1), "ArrowUp": () => setCurrent(current - 1),
      "g": () => setCurrent(0), "G": () => setCurrent(drawn.view.length - 1),
      "l": () => moveFocus(1), "ArrowRight": () => moveFocus(1),
      "h": () => moveFocus(-1), "ArrowLeft": () => moveFocus(-1),
      "Enter": () => s && makeKeeper(s, focusIndex),
      "x": () => s && setIncluded(s, focusIndex, !C.acted(s, focusIndex)),
      " ": () => s && setIncluded(s, focusIndex, !C.acted(s, focusIndex)),
      "c": () => s && openCompare(s, focusIndex),
      "/": () => $("search").focus(),
    };
    const run = keys[event.key];
    if (!run) return;
    event.preventDefault();
    run();
  });

  // ---- compare: two members side by side, zoom and pan together -------------------------------
  const cmp = { s: null, left: 0, right: 1, zoom: 1, cx: 0.5, cy: 0.5, align: true };
  const panes = { left: document.querySelector('.pane[data-side="left"]'), right: document.querySelector('.pane[data-side="right"]') };

  function openCompare(s, i) {
    cmp.s = s;
    cmp.left = s.keeper;
    cmp.right = i !== s.keeper ? i : s.g.members.findIndex((_, k) => k !== s.keeper);
    if (cmp.right < 0) return;
    cmp.zoom = 1; cmp.cx = 0.5; cmp.cy = 0.5;
    $("compare").showModal();
    loadPanes();
  }
  function alignment() {  // CSS matrix turning the right picture like the left one, or null
    const a = cmp.s.g.members[cmp.left], b = cmp.s.g.members[cmp.right];
    const t = C.relativeTransform(b, a);
    const M = { mirror: [-1, 0, 0, 1], flip: [1, 0, 0, -1], rotate90: [0, 1, -1, 0], rotate180: [-1, 0, 0, -1],
                rotate270: [0, -1, 1, 0], transpose: [0, 1, 1, 0], transverse: [0, -1, -1, 0] }[t];
    return M || null;
  }
  function loadPanes() {
    const s = cmp.s;
    for (const side of ["left", "right"]) {
      const i = cmp[side];
      const m = C.reviewed(s, i);
      const pane = panes[side];
      const img = pane.querySelector("img");
      const status = pane.querySelector(".pane-status");
      pane.dataset.file = fileId(s, i);
      pane.dataset.keep = String(i === s.keeper);
      pane.dataset.index = String(i);
      img.hidden = true;
      status.textContent = "loading…";
      img.onload = () => { img.hidden = false; status.textContent = ""; layout(); };
      img.onerror = () => { status.textContent = "cannot show this file"; };
      img.src = `/files/${fileId(s, i)}/full`;
      const caption = pane.querySelector("figcaption");
      const dims = m.width && m.height ? `${m.width}×${m.height}` : "?×?";
      const facts = [i === s.keeper ? "keeper" : C.acted(s, i) ? "will be acted on" : "left alone", dims,
                     humanBytes(m.size), m.format || "?"];
      if (i !== s.keeper) facts.push(`distance ${m.distance}`);
      if (m.transform) facts.push(String(m.transform));
      if (m.exact === true && i !== s.keeper) facts.push("exact copy");
      caption.replaceChildren(el("span", "path", m.path), el("span", "facts", facts.join(" · ")));
    }
    const turn = alignment();
    const alignButton = document.querySelector('[data-action="align"]');
    alignButton.hidden = !turn;
    alignButton.setAttribute("aria-pressed", String(cmp.align));
    $("compare-title").textContent = `Group ${s.g.id}: ${cmp.left === s.keeper ? "keeper" : "file"} vs. ${cmp.right + 1}/${s.g.members.length}`;
  }
  // Both panes show the same normalized point (cx, cy) of the picture at the viewport's centre,
  // at `zoom` times the left picture's fit; so copies of different resolutions stay aligned.
  function paneGeometry(side) {
    const pane = panes[side];
    const img = pane.querySelector("img");
    const viewport = pane.querySelector(".viewport");
    const vw = viewport.clientWidth, vh = viewport.clientHeight;
    const iw = img.naturalWidth || 1, ih = img.naturalHeight || 1;
    const turn = side === "right" && cmp.align ? alignment() : null;
    const swap = turn && turn[0] === 0;  // a quarter turn swaps width and height
    const w = swap ? ih : iw, h = swap ? iw : ih;
    const fit = Math.min(vw / w, vh / h);
    return { img, viewport, vw, vh, iw, ih, w, h, fit, turn };
  }
  function layout() {
    if (!cmp.s) return;
    const geo = { left: paneGeometry("left"), right: paneGeometry("right") };
    for (const side of ["left", "right"]) {
      const g = geo[side];
      const scale = g.fit * cmp.zoom;
      // the point to centre, in the picture's own pixels (through the turn, about its centre)
      const ax = (cmp.cx - 0.5) * g.w, ay = (cmp.cy - 0.5) * g.h;
      let ox = ax, oy = ay;
      let matrix = "";
      if (g.turn) {
        const [a, b, c, d] = g.turn;  // own -> left frame is T^T; so own = T * aligned
        ox = a * ax + b * ay; oy = c * ax + d * ay;
        matrix = ` matrix(${a}, ${b}, ${c}, ${d}, 0, 0)`;
      }
      const px = ox + g.iw / 2, py = oy + g.ih / 2;
      g.img.style.transform = `translate(${g.vw / 2}px, ${g.vh / 2}px) scale(${scale})${matrix} translate(${-px}px, ${-py}px)`;
      g.img.dataset.scale = scale.toFixed(4);
      g.viewport.classList.toggle("pixelated", scale >= 2);
    }
    const actual = geo.left.fit * cmp.zoom;
    $("compare").dataset.zoom = cmp.zoom.toFixed(4);
    $("compare").dataset.cx = cmp.cx.toFixed(4);
    $("compare").dataset.cy = cmp.cy.toFixed(4);
    $("compare-zoom").textContent = `${Math.round(actual * 100)}% of the left picture`;
  }
  function zoomAt(factor, clientX, clientY, viewport) {
    const g = paneGeometry(viewport ? viewport.closest(".pane").dataset.side : "left");
    const rect = g.viewport.getBoundingClientRect();
    const x = clientX === undefined ? rect.width / 2 : clientX - rect.left;
    const y = clientY === undefined ? rect.height / 2 : clientY - rect.top;
    const before = g.fit * cmp.zoom;
    const zoom = Math.max(0.1, Math.min(64, cmp.zoom * factor));
    const after = g.fit * zoom;
    // keep the picture point under the pointer where it is
    cmp.cx += (x - g.vw / 2) / g.w * (1 / before - 1 / after);
    cmp.cy += (y - g.vh / 2) / g.h * (1 / before - 1 / after);
    cmp.zoom = zoom;
    layout();
  }
  function pan(dx, dy, side = "left") {
    const g = paneGeometry(side);
    const scale = g.fit * cmp.zoom;
    cmp.cx = Math.max(0, Math.min(1, cmp.cx - dx / (scale * g.w)));
    cmp.cy = Math.max(0, Math.min(1, cmp.cy - dy / (scale * g.h)));
    layout();
  }
  for (const viewport of document.querySelectorAll(".viewport")) {
    viewport.addEventListener("wheel", (event) => {
      event.preventDefault();
      zoomAt(Math.exp(-event.deltaY * 0.0015), event.clientX, event.clientY, viewport);
    }, { passive: false });
    viewport.addEventListener("pointerdown", (event) => {
      viewport.setPointerCapture(event.pointerId);
      viewport.classList.add("dragging");
      let x = event.clientX, y = event.clientY;
      const side = viewport.closest(".pane").dataset.side;
      const move = (e) => { pan(e.clientX - x, e.clientY - y, side); x = e.clientX; y = e.clientY; };
      const up = () => {
        viewport.classList.remove("dragging");
        viewport.removeEventListener("pointermove", move);
        viewport.removeEventListener("pointerup", up);
        viewport.removeEventListener("pointercancel", up);
      };
      viewport.addEventListener("pointermove", move);
      viewport.addEventListener("pointerup", up);
      viewport.addEventListener("pointercancel", up);
    });
  }
  window.addEventListener("resize", layout);
  function stepRight(step) {
    const s = cmp.s;
    const others = s.g.members.map((_, i) => i).filter((i) => i !== cmp.left);
    const at = others.indexOf(cmp.right);
    cmp.right = others[(at + step + others.length) % others.length];
    loadPanes();
  }
  function compareAction(action) {
    const s = cmp.s;
    const actions = {
      "zoom-fit": () => { cmp.zoom = 1; cmp.cx = 0.5; cmp.cy = 0.5; layout(); },
      "zoom-actual": () => { zoomAt(1 / (paneGeometry("left").fit * cmp.zoom)); },
      "swap": () => { [cmp.left, cmp.right] = [cmp.right, cmp.left]; loadPanes(); },
      "align": () => { cmp.align = !cmp.align; loadPanes(); layout(); },
      "compare-next": () => stepRight(1),
      "compare-prev": () => stepRight(-1),
      "close": () => $("compare").close(),
      "keep-right": () => { makeKeeper(s, cmp.right); loadPanes(); },
      "toggle-right": () => { setIncluded(s, cmp.right, !C.acted(s, cmp.right)); loadPanes(); },
    };
    if (actions[action]) actions[action]();
  }
  $("compare").addEventListener("click", (event) => {
    const target = event.target.closest("[data-action]");
    if (target) compareAction(target.dataset.action);
  });
  $("compare").addEventListener("close", () => {
    for (const pane of Object.values(panes)) pane.querySelector("img").removeAttribute("src");
    if (cmp.s) setCurrent(drawn.view.indexOf(cmp.s), focusIndex);
    cmp.s = null;
  });
  function compareKey(event) {
    const step = event.shiftKey ? 80 : 0;
    const keys = {
      "Escape": "close", "0": "zoom-fit", "1": "zoom-actual", "s": "swap", "a": "align",
      "Enter": "keep-right", "x": "toggle-right", " ": "toggle-right",
    };
    if (step && event.key.startsWith("Arrow")) {
      event.preventDefault();
      const d = { ArrowLeft: [step, 0], ArrowRight: [-step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] }[event.key];
      pan(d[0], d[1]);
      return;
    }
    if (event.key === "ArrowRight") { event.preventDefault(); stepRight(1); return; }
    if (event.key === "ArrowLeft") { event.preventDefault(); stepRight(-1); return; }
    if (event.key === "+" || event.key === "=") { event.preventDefault(); zoomAt(1.25); return; }
    if (event.key === "-") { event.preventDefault(); zoomAt(0.8); return; }
    if (keys[event.key]) { event.preventDefault(); compareAction(keys[event.key]); }
  }

  // ---- help and dialogs ------------------------------------------------------------------------
  document.querySelector('[data-action="help"]').addEventListener("click", () => $("help").showModal());
  $("help").addEventListener("click", (event) => {
    if (event.target.closest('[data-action="close"]') || event.target === $("help")) $("help").close();
  });

  // ---- scan panel ------------------------------------------------------------------------------
  const PHASES = { idle: "Starting…", scanning: "Scanning", grouping: "Grouping", ready: "Ready", failed: "Scan failed" };
  function renderPhase(name, message) {
    phase = name;
    $("scan").dataset.phase = name;
    $("phase-label").textContent = PHASES[name] || name;
    const text = $("scan-message");
    text.hidden = !message;
    text.textContent = message || "";
    text.classList.toggle("error", name === "failed");
    if (name === "grouping") $("scan-bar").removeAttribute("value");
    updateButtons();
  }
  function renderProgress(p) {
    if (!p) return;
    const bar = $("scan-bar");
    bar.max = Math.max(1, p.total);
    bar.value = p.done;
    $("scan").dataset.done = String(p.done);
    $("scan-counts").textContent = `${count(p.done)} of ${count(p.total)} files`;
    $("scan-rate").textContent = p.rate === null || p.rate === undefined ? "" : `${count(Math.round(p.rate))} files/s`;
    $("scan-eta").textContent = p.eta_s === null || p.eta_s === undefined ? "" : `ETA ${duration(p.eta_s)}`;
    $("scan-errors").textContent = p.errors ? `${count(p.errors)} error(s)` : "no errors";
    $("scan-errors").dataset.value = String(p.errors);
  }
  function duration(seconds) {
    if (seconds < 60) return `${Math.ceil(seconds)} s`;
    const m = Math.floor(seconds / 60), s = Math.round(seconds % 60);
    return m < 60 ? `${m} min ${s} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
  }
  function addRecentError(e) {
    const box = $("recent-errors");
    box.hidden = false;
    const ol = $("recent-error-list");
    ol.append(el("li", "", `${e.path}: ${e.reason}: ${e.message}`));
    while (ol.childElementCount > 50) ol.firstElementChild.remove();
  }

  function renderErrors() {
    const box = $("errors");
    const ol = $("error-list");
    ol.replaceChildren();
    box.hidden = !doc.errors.length;
    $("error-count").textContent = count(doc.errors.length);
    if (box.open) fillErrors();
  }
  function fillErrors() {
    const ol = $("error-list");
    if (ol.childElementCount) return;
    const fragment = document.createDocumentFragment();
    for (const e of doc.errors) fragment.append(el("li", "", `${e.path}: ${e.reason}: ${e.message}`));
    ol.append(fragment);
  }
  $("errors").addEventListener("toggle", () => { if ($("errors").open) fillErrors(); });

  // ---- buttons that depend on what runs --------------------------------------------------------
  function updateButtons() {
    const idle = busy === null;
    document.querySelector('[data-action="rescan"]').disabled = !idle;
    document.querySelector('[data-action="stop-scan"]').hidden = busy !== "scan";
    const files = Number($("plan").dataset.files || 0);
    document.querySelector('[data-action="apply"]').disabled = !idle || version === 0 || files === 0;
    for (const button of document.querySelectorAll('[data-action="undo-run"]')) button.disabled = !idle;
    const undo = document.querySelector('#activity [data-action="undo"]');
    undo.disabled = !idle;
    root.dataset.busy = busy || "";
  }
  document.querySelector('[data-action="rescan"]').addEventListener("click", () => post("/api/scan"));
  document.querySelector('[data-action="stop-scan"]').addEventListener("click", () => post("/api/stop"));
  document.querySelector('#activity [data-action="stop-job"]').addEventListener("click", () => post("/api/stop"));

  // ---- acting: choose, preview, confirm, apply; outcomes as they come ---------------------------
  const ACTIONS = {
    trash: { verb: "Move to the trash", past: "trashed" },
    move: { verb: "Move", past: "moved" },
    hardlink: { verb: "Replace with hard links to the keeper", past: "hard-linked" },
    symlink: { verb: "Replace with symbolic links to the keeper", past: "symlinked" },
    delete: { verb: "Delete permanently", past: "deleted" },
  };
  $("action").addEventListener("change", () => {
    const action = $("action").value;
    $("move-to").hidden = action !== "move";
    $("act").dataset.action = action;
  });
  let pending = null;
  function request() {
    return { version, action: $("action").value, move_to: $("move-to").value || null, groups: decisions() };
  }
  document.querySelector('[data-action="apply"]').addEventListener("click", async () => {
    const body = request();
    const reply = await post("/api/preview", body);
    const dialog = $("confirm");
    dialog.dataset.action = body.action;
    const typed = $("confirm-typed");
    typed.value = "";
    $("confirm-typed-label").hidden = body.action !== "delete";
    const warning = $("confirm-warning");
    const confirmButton = dialog.querySelector('[data-action="confirm-apply"]');
    $("confirm-reasons").replaceChildren();
    if (!reply.ok) {
      $("confirm-title").textContent = "Cannot apply";
      $("confirm-text").textContent = reply.data.error;
      warning.hidden = true;
      confirmButton.hidden = true;
      $("confirm-typed-label").hidden = true;
      dialog.showModal();
      return;
    }
    const p = reply.data;
    pending = body;
    $("confirm-title").textContent = ACTIONS[body.action].verb;
    const where = body.action === "move" ? ` to ${p.move_to}` : "";
    $("confirm-text").textContent = `${ACTIONS[body.action].verb}${where}: ${count(p.would)} file(s), ` +
      `${humanBytes(p.bytes)}, from ${count(p.groups)} group(s). Each file is checked again right before, ` +
      "and every step is written to a journal.";
    for (const [reason, n] of p.reasons) $("confirm-reasons").append(el("li", "", `${count(n)} skipped: ${reason}`));
    if (p.unchanged) $("confirm-reasons").append(el("li", "", `${count(p.unchanged)} already linked to their keeper`));
    for (const reason of p.refused) $("confirm-reasons").append(el("li", "", `refused: ${reason}`));
    warning.hidden = body.action !== "delete";
    warning.textContent = "Deleted files cannot be restored: undo cannot bring them back. Trash is the safe choice.";
    confirmButton.hidden = false;
    confirmButton.disabled = p.would === 0 || body.action === "delete";
    dialog.dataset.would = String(p.would);
    dialog.showModal();
  });
  $("confirm-typed").addEventListener("input", () => {
    const dialog = $("confirm");
    dialog.querySelector('[data-action="confirm-apply"]').disabled =
      $("confirm-typed").value.trim() !== "delete" || dialog.dataset.would === "0";
  });
  $("confirm").addEventListener("click", async (event) => {
    const target = event.target.closest("[data-action]");
    if (!target) return;
    if (target.dataset.action === "cancel") { $("confirm").close(); return; }
    if (target.dataset.action !== "confirm-apply" || !pending) return;
    const body = Object.assign({}, pending, { confirm: $("confirm-typed").value.trim() });
    pending = null;
    $("confirm").close();
    const reply = await post("/api/apply", body);
    if (!reply.ok) { showJobError(reply.data.error); return; }
    startJob(reply.data);
  });

  function showJobError(message) {
    $("activity").hidden = false;
    $("activity").dataset.status = "failed";
    $("job-title").textContent = message;
  }
  function startJob(summary) {
    if (job && job.id === summary.id) {  // the event stream told us first, and knows better than this reply
      job = Object.assign({}, summary, job);
    } else {
      job = Object.assign({}, summary, { items: [] });
      $("outcomes").replaceChildren();
    }
    renderJob();
  }
  function renderJob() {
    if (!job) return;
    const box = $("activity");
    box.hidden = false;
    box.dataset.status = job.status;
    box.dataset.kind = job.kind;
    box.dataset.job = String(job.id);
    const c = job.counts || {};
    const verb = job.kind === "undo" ? `Undo of a ${job.action} run` : (ACTIONS[job.action] || { verb: job.action }).verb;
    const state = { running: "running", finished: "finished", stopped: "stopped", failed: "failed",
                    incomplete: "finished, with files left" }[job.status] || job.status;
    $("job-title").textContent = `${verb}: ${state}`;
    const parts = job.kind === "undo"
      ? [`${count(c.restored || 0)} restored`, `${count((c.failed || 0) + (c.irreversible || 0))} not undone`,
         `${count((c.not_needed || 0) + (c.already_undone || 0))} nothing to do`]
      : [`${count(c.done || 0)} ${(ACTIONS[job.action] || { past: "done" }).past}`, `${count(c.skipped || 0)} skipped`,
         `${count(c.failed || 0)} failed`, humanBytes(job.bytes || 0)];
    $("job-counts").textContent = parts.join(" · ") + (job.message ? ` · ${job.message}` : "");
    $("job-journal").textContent = job.journal ? `Journal: ${job.journal}` : "";
    const bar = $("job-bar");
    bar.hidden = job.status !== "running";
    bar.max = Math.max(1, job.total || 0);
    bar.value = job.items.length;
    box.querySelector('[data-action="stop-job"]').hidden = job.status !== "running";
    const undo = box.querySelector('[data-action="undo"]');
    undo.hidden = !(job.kind === "apply" && job.run_id && (c.done || 0) > 0 && job.action !== "delete" && job.status !== "running");
    undo.dataset.run = job.run_id || "";
    updateButtons();
  }
  function addOutcome(o) {
    if (!job || o.job !== job.id || o.n < job.items.length) return false;  // old, or seen already
    job.items.push(o);
    const ol = $("outcomes");
    const li = el("li", "", o.reason ? `${o.status}: ${o.path} (${o.reason})` : `${o.status}: ${o.path}`);
    if (o.detail && job.kind === "apply" && o.status === "done") li.append(` → ${o.detail}`);
    li.dataset.status = o.status;
    ol.append(li);
    while (ol.childElementCount > 500) ol.firstElementChild.remove();
    ol.scrollTop = ol.scrollHeight;
    if (job.kind === "apply" && o.file) {
      outcomeOf.set(o.file, { status: o.status, reason: o.reason });
      markMember(o.file);
    }
    return true;
  }
  function markMember(id) {
    for (const s of drawn.view.slice(0, drawn.shown)) {
      if (ids[s.gi].includes(id)) { drawn.refresh(s); return; }
    }
  }
  $("activity").addEventListener("click", (event) => {
    const target = event.target.closest('[data-action="undo"]');
    if (target && target.dataset.run) undoRun(target.dataset.run);
  });
  async function undoRun(runId) {
    const reply = await post(`/api/runs/${encodeURIComponent(runId)}/undo`);
    if (!reply.ok) { showJobError(reply.data.error); return; }
    startJob(reply.data);
  }

  // ---- past runs -----------------------------------------------------------------------------
  async function loadRuns() {
    const data = await getJSON("/api/runs");
    const ol = $("runs");
    ol.replaceChildren();
    $("runs-count").textContent = count(data.runs.length);
    for (const run of data.runs) {
      const li = el("li");
      li.dataset.run = run.run_id;
      li.dataset.undoable = String(run.undoable);
      const when = run.started_at.replace("T", " ").slice(0, 19);
      li.append(el("strong", "", `${when} · ${run.action}`),
                el("span", "facts", `${count(run.done)} done, ${count(run.failed)} failed, ${count(run.skipped)} skipped` +
                   (run.undone ? `, ${count(run.undone)} undone` : "") + (run.finished ? "" : " (interrupted)")),
                el("span", "facts path", run.journal));
      if (run.undoable) {
        const button = el("button", "", "Undo");
        button.type = "button";
        button.dataset.action = "undo-run";
        button.dataset.run = run.run_id;
        li.append(button);
      }
      ol.append(li);
    }
    updateButtons();
  }
  $("runs").addEventListener("click", (event) => {
    const target = event.target.closest('[data-action="undo-run"]');
    if (target) undoRun(target.dataset.run);
  });

  // ---- following the server ------------------------------------------------------------------
  async function loadGroups() {
    const data = await getJSON("/api/review");
    if (data.version !== version) install(data);
  }
  async function loadState(review) {
    const state = await getJSON("/api/state");
    roots = state.roots;
    $("roots").textContent = state.roots.join(" · ");
    busy = state.busy;
    renderPhase(state.phase, state.message);
    renderProgress(state.progress);
    $("recent-error-list").replaceChildren();
    if (state.progress) for (const e of state.progress.recent_errors) addRecentError(e);
    if (state.job) {
      const full = await getJSON(`/api/jobs/${state.job.id}`);
      job = Object.assign({}, full, { items: [] });
      $("outcomes").replaceChildren();
      for (const o of full.items) addOutcome(o);
      renderJob();
    }
    if (review) {  // fetched alongside the state: the first groups come one round trip sooner
      const data = await review;
      if (data.version > version) install(data);
    }
    if (state.version !== version) await loadGroups();
    return state;
  }
  function follow(after) {
    const source = new EventSource(`/api/events?after=${after}`);
    const on = (kind, fn) => source.addEventListener(kind, (event) => fn(JSON.parse(event.data)));
    on("progress", renderProgress);
    on("scan-error", addRecentError);
    on("phase", (p) => renderPhase(p.phase, p.message));
    on("busy", (b) => { busy = b.busy; updateButtons(); });
    on("groups", () => loadGroups());
    on("job", (j) => {
      if (!job || job.id !== j.id) startJob(j);
      else { Object.assign(job, j); renderJob(); }
    });
    on("outcome", (o) => {
      if (!addOutcome(o)) return;
      job.counts = job.counts || {};
      job.counts[o.status] = (job.counts[o.status] || 0) + 1;
      if (o.status === "done" && job.kind === "apply") job.bytes = (job.bytes || 0) + (o.size || 0);
      renderJob();
    });
    on("runs", () => loadRuns());
    on("resync", () => loadState(null));
    source.addEventListener("error", () => { root.dataset.connected = "false"; });
    source.addEventListener("open", () => { root.dataset.connected = "true"; });
  }

  (async function start() {
    const state = await loadState(getJSON("/api/review"));
    follow(state.event_id);
    await loadRuns();
    root.dataset.ready = "true";
    performance.mark("imgtwin-ready");
  })().catch((error) => {
    renderPhase("failed", `The page could not reach the server: ${error.message}`);
  });
})();
