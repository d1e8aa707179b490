/* imgtwin static report: renders groups from the embedded find --json document
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

  const P = ImgtwinPage;
  const { count } = ImgtwinCore;
  // Review state per group: the keeper's index and the members left out (groups-core.js).
  const groups = doc.groups.map((g, gi) => ImgtwinCore.newState(g, gi));

  const $ = (id) => document.getElementById(id);
  const list = $("groups");
  const sentinel = $("sentinel");
  // This page's own part of a group: thumbnails made beside it, or none (groups-page.js draws the rest).
  const hooks = { thumb: (s, i) => (thumbs.names[s.gi][i] ? `${thumbs.dir}/${thumbs.names[s.gi][i]}` : null) };
  const drawGroup = (s) => P.groupNode(s, hooks);
  const drawn = ImgtwinCore.chunkedList({ list, sentinel, render: drawGroup, key: (s) => s.gi, chunk: CHUNK, ahead: AHEAD });

  function refreshGroup(s) {
    drawn.refresh(s);
    P.renderPlanLine(groups);
  }

  function rebuild() {
    const view = P.view(groups, list);
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
    errorBox.addEventListener("toggle", () => { if (errorBox.open) P.fillErrors(doc); });
  }

  for (const input of document.querySelectorAll('input[name="filter"]')) input.addEventListener("change", rebuild);
  $("sort").addEventListener("change", rebuild);
  P.renderSummary(doc);
  $("source").textContent = data.source;
  P.renderCounts(groups);
  rebuild();
  P.renderPlanLine(groups);
  document.documentElement.dataset.ready = "true";
  performance.mark("imgtwin-rendered");
})();
