/* imgtwin review page: renders groups from the embedded find --json document,
   a chunk at a time (so 10,000 groups open quickly), lets a person change
   keepers and leave files out, and exports the result as a find --json plan.
   All data reaches the DOM through textContent and attributes, never HTML. */
"use strict";
(function () {
  const CHUNK = 30;              // groups appended per step
  const AHEAD = 1200;            // render this far (px) below the viewport
  const data = JSON.parse(document.getElementById("imgtwin-data").textContent);
  const doc = data.document;
  const thumbs = data.thumbnails;

  const { humanBytes, count, el, reviewed, reclaimable, edited } = ImgtwinCore;
  // Review state per group: the keeper's index and the members left out (groups-core.js).
  const groups = doc.groups.map((g, gi) => ImgtwinCore.newState(g, gi));

  const $ = (id) => document.getElementById(id);
  const list = $("groups");
  const sentinel = $("sentinel");
  const drawn = ImgtwinCore.chunkedList({ list, sentinel, render: groupNode, key: (s) => s.gi, chunk: CHUNK, ahead: AHEAD });

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
    const totals = ImgtwinCore.totals(doc.groups);
    for (const key of ["exact_copies", "low_confidence", "reference_only", "linked"]) {
      setValue(key, totals[key], count(totals[key]));
    }
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
    const reference = !isKeeper && ImgtwinCore.isReference(m);
    box.checked = isKeeper || (!reference && !s.excluded.has(i));
    box.disabled = isKeeper || reference;
    box.dataset.action = "include";
    box.title = isKeeper ? "The keeper is always kept" : reference ? "In a reference folder: never touched"
      : "Include in the plan";
    label.append(box, document.createTextNode(" include"));
    row.append(label);
    if (isKeeper) row.append(el("span", "badge keep", "keep"));
    if (!isKeeper && m.exact === true) row.append(el("span", "badge same", "same bytes"));
    if (ImgtwinCore.linkedToKeeper(s, i)) row.append(el("span", "badge same", "hard link to the keeper"));
    if (ImgtwinCore.isReference(m)) row.append(el("span", "badge reference", "reference"));
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
    if (g.keeper_confidence === "low") head.append(el("span", "badge uncertain", "keeper uncertain"));
    if (g.reference_only) head.append(el("span", "badge reference", "reference only"));
    head.append(el("span", "facts", `${g.members.length} files · ${humanBytes(reclaimable(s))} reclaimable`));
    const ol = el("ol", "members");
    // keeper first, the others as found
    ol.append(memberNode(s, s.keeper));
    g.members.forEach((_, i) => { if (i !== s.keeper) ol.append(memberNode(s, i)); });
    section.append(head, ol);
    return section;
  }

  function refreshGroup(s) {
    drawn.refresh(s);
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
    const view = groups.filter(filters[filter]).sort(sorts[sort]);
    list.dataset.filter = filter;
    list.dataset.sort = sort;
    $("empty").hidden = view.length > 0;
    $("status").textContent = `Showing ${count(view.length)} of ${count(groups.length)} groups`;
    drawn.reset(view);
  }

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
  const buildPlan = () => ImgtwinCore.buildPlan(doc, groups);

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
