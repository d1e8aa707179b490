/* Shared by the static report (report.js) and the review app (review.js): how the groups
   look on a page. The summary, the counts, the plan line, a group, a member, its thumbnail
   and the list's filters and sorts live here once, so both pages show and word them alike.
   A page passes only what is its own (where thumbnails come from, marks of its own) as hooks.
   Data reaches the DOM through textContent and attributes only. */
"use strict";
const ImgtwinPage = (function () {
  const C = ImgtwinCore;
  const { el, count, humanBytes } = C;
  const $ = (id) => document.getElementById(id);

  // ---- summary, counts, plan line ---------------------------------------------------------------
  function setValue(key, value, text) {  // a page shows the summary keys it has room for
    const node = document.querySelector(`#summary [data-key="${key}"]`);
    if (!node) return;
    node.dataset.value = String(value);
    node.textContent = text;
  }
  function renderSummary(doc) {
    const files = doc.groups.reduce((n, g) => n + g.members.length, 0);
    setValue("groups", doc.groups.length, count(doc.groups.length));
    setValue("files", files, count(files));
    setValue("duplicates", files - doc.groups.length, count(files - doc.groups.length));
    const totals = C.totals(doc.groups);
    for (const key of ["exact_copies", "low_confidence", "keeper_lacks_metadata", "reference_only", "linked"]) {
      setValue(key, totals[key], count(totals[key]));
    }
    const bytes = doc.groups.reduce((n, g) => n + g.reclaimable_bytes, 0);
    setValue("reclaimable_bytes", bytes, humanBytes(bytes));
    setValue("errors", doc.errors.length, count(doc.errors.length));
    for (const key of ["decided_groups", "decided_files"]) {  // what find's remembered decisions left out
      const n = (doc.summary || {})[key] || 0;
      setValue(key, n, count(n));
    }
  }
  function renderCounts(states) {
    for (const [key, test] of Object.entries(filters)) {
      const node = document.querySelector(`[data-count="${key}"]`);
      if (!node) continue;
      const n = states.filter(test).length;
      node.dataset.value = String(n);
      node.textContent = count(n);
    }
  }
  // What acting on the reviewed groups would do: files, groups, bytes freed (a hard link
  // to the keeper frees nothing), and how many groups the reviewer changed.
  function renderPlanLine(states, shown = true) {
    let files = 0, bytes = 0, groups = 0;
    for (const s of states) {
      const n = s.g.members.filter((m, i) => C.acted(s, i)).length;
      if (n) { groups++; files += n; bytes += C.reclaimable(s); }
    }
    const edited = states.filter(C.edited).length;
    const line = $("plan");
    line.classList.toggle("changed", edited > 0);
    line.dataset.files = String(files);
    line.dataset.edited = String(edited);
    line.textContent = !shown ? "" :
      `Plan: ${count(files)} file(s) in ${count(groups)} group(s), ${humanBytes(bytes)}` +
      (edited ? ` · you changed ${count(edited)} group(s)` : " · as found") +
      ". Keepers and excluded files are never touched.";
  }

  // ---- one group --------------------------------------------------------------------------------
  // `src`: the thumbnail's address, or null where there is none. `select`: what a click on it does, as its
  // title (a page that has nothing to open leaves it out: the picture is then no button). Making a file
  // the keeper is never a click on its picture: that is the "keep" control beside it (keeperChoice).
  function thumbFor(s, i, src, select) {
    const m = s.g.members[i];
    const button = el(select ? "button" : "span", "thumb");
    if (select) {
      button.type = "button";
      button.dataset.action = "select";
      button.title = select;
    }
    const placeholder = () => button.replaceChildren(el("span", "placeholder", "no preview"));
    if (!src) {
      placeholder();
      return button;
    }
    const img = el("img");
    img.loading = "lazy";
    img.decoding = "async";
    img.alt = m.path;
    img.src = src;
    if (m.width && m.height) {  // reserve the box so the page does not jump
      const k = Math.min(160 / m.width, 160 / m.height, 1);
      img.width = Math.max(1, Math.round(m.width * k));
      img.height = Math.max(1, Math.round(m.height * k));
    }
    img.addEventListener("error", placeholder, { once: true });
    button.append(img);
    return button;
  }

  // The explicit "keep this" control: one radio per member, a group's radios one set (arrow keys move in it).
  function keeperChoice(s, i) {
    const label = el("label", "keep-choice");
    const radio = el("input");
    radio.type = "radio";
    radio.name = `keeper-${s.gi}`;
    radio.checked = i === s.keeper;
    radio.dataset.action = "keep";
    label.title = i === s.keeper ? "The keeper: kept, never acted on" : "Keep this file instead";
    label.append(radio, document.createTextNode(" keep"));
    return label;
  }

  // A path as folder (dim) and name; `text` is how the page shortens it, the title keeps it whole.
  function pathNode(full, text = full) {
    const cut = Math.max(text.lastIndexOf("/"), text.lastIndexOf("\\")) + 1;
    const path = el("div", "path");
    path.title = full;
    path.append(el("span", "dir", text.slice(0, cut)), el("span", "name", text.slice(cut)));
    return path;
  }

  // hooks: thumb(s, i) -> address or null; select: the title of a click on a picture (none: not clickable);
  // path(full) -> shown text; member(li, row, meta, s, i)
  // and group(section, s) add a page's own marks.
  function memberNode(s, i, hooks) {
    const m = C.reviewed(s, i);
    const isKeeper = i === s.keeper;
    const reference = !isKeeper && C.isReference(m);
    const li = el("li", "member");
    li.dataset.path = m.path;
    li.dataset.index = String(i);
    li.dataset.keep = String(isKeeper);
    li.dataset.included = String(isKeeper || C.acted(s, i));
    li.classList.toggle("keeper", isKeeper);
    li.classList.toggle("excluded", !isKeeper && !C.acted(s, i));
    li.append(thumbFor(s, i, hooks.thumb(s, i), hooks.select));

    const meta = el("div", "meta");
    const row = el("div", "row");
    const label = el("label");
    const box = el("input");
    box.type = "checkbox";
    box.checked = isKeeper || C.acted(s, i);
    box.disabled = isKeeper || reference;
    box.dataset.action = "include";
    box.title = isKeeper ? "The keeper is always kept" : reference ? "In a reference folder: never touched"
      : "Include in the plan";
    label.append(box, document.createTextNode(" include"));
    row.append(keeperChoice(s, i), label);
    if (isKeeper) row.append(el("span", "badge keep", "keep"));
    if (!isKeeper && m.exact === true) row.append(el("span", "badge same", "same bytes"));
    if (C.linkedToKeeper(s, i)) row.append(el("span", "badge same", "hard link to the keeper"));
    if (C.isReference(m)) row.append(el("span", "badge reference", "reference"));
    meta.append(row, pathNode(m.path, hooks.path ? hooks.path(m.path) : m.path));
    const dims = m.width && m.height ? `${m.width}×${m.height}` : "?×?";
    const detail = el("div", "detail", `${dims} · ${humanBytes(m.size)} · ${m.format || "?"}`);
    if (!isKeeper) detail.append(` · distance ${m.distance}`);
    if (m.transform) detail.append(" · ", el("span", "transform", String(m.transform)));
    if (!isKeeper && m.reason) detail.append(" · ", el("span", "reason", String(m.reason)));
    meta.append(detail);
    li.append(meta);
    if (hooks.member) hooks.member(li, row, meta, s, i);
    return li;
  }

  function groupNode(s, hooks) {
    const g = s.g;
    const section = el("section", "group");
    section.dataset.groupId = String(g.id);
    section.dataset.index = String(s.gi);
    section.dataset.category = g.category;
    section.dataset.transformed = String(s.transformed);
    section.dataset.reclaimable = String(C.reclaimable(s));
    if (g.keeper_confidence !== undefined) section.dataset.confidence = String(g.keeper_confidence);
    const head = el("header");
    head.append(el("h2", "", `Group ${g.id}`), el("span", `badge ${g.category}`, g.category));
    if (g.keeper_confidence === "low") {
      const badge = el("span", "badge uncertain", "keeper uncertain");
      badge.title = "keeper uncertain: check it (imgtwin could not tell which copy is best)";
      head.append(badge);
    }
    const asFound = g.members[s.keeper] !== undefined && g.members[s.keeper].keep === true;  // find's keeper
    if (g.keeper_warning && asFound) {  // metadata a copy to be removed carries and the keeper lacks
      const badge = el("span", "badge uncertain keeper-lacks", "keeper lacks metadata");
      badge.title = String(g.keeper_warning);
      head.append(badge, el("span", "facts keeper-warning", String(g.keeper_warning)));
    }
    if (s.transformed) head.append(el("span", "badge transformed", "transformed"));
    if (g.reference_only) head.append(el("span", "badge reference", "reference only"));
    head.append(el("span", "facts", `${g.members.length} files · ${humanBytes(C.reclaimable(s))} reclaimable`));
    if (g.keeper_reason && asFound) head.append(el("span", "facts keeper-reason", `kept: ${g.keeper_reason}`));
    const ol = el("ol", "members");
    ol.append(memberNode(s, s.keeper, hooks));  // keeper first, the others as found
    g.members.forEach((_, i) => { if (i !== s.keeper) ol.append(memberNode(s, i, hooks)); });
    section.append(head, ol);
    if (hooks.group) hooks.group(section, s);
    return section;
  }

  // ---- the list: filters and sorts ---------------------------------------------------------------
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
  // The groups the toolbar asks for (filter, sort, an optional path needle), marked on `list`.
  function view(states, list, needle = "") {
    const filter = document.querySelector('input[name="filter"]:checked').value;
    const sort = $("sort").value;
    let items = states.filter(filters[filter]);
    if (needle) items = items.filter((s) => s.g.members.some((m) => m.path.toLowerCase().includes(needle)));
    list.dataset.filter = filter;
    list.dataset.sort = sort;
    return sorted(items, sort);
  }
  // Errors are drawn when their box is first opened (a scan may have thousands).
  function fillErrors(doc) {
    const ol = $("error-list");
    if (ol.childElementCount) return;
    const fragment = document.createDocumentFragment();
    for (const e of doc.errors) fragment.append(el("li", "", `${e.path}: ${e.reason}: ${e.message}`));
    ol.append(fragment);
  }

  return { setValue, renderSummary, renderCounts, renderPlanLine, thumbFor, keeperChoice, pathNode, memberNode, groupNode,
           filters, view, fillErrors };
})();
