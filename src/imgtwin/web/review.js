/* imgtwin review app: the live page of `imgtwin review`.
   It follows the server through server-sent events (scan progress, groups,
   per-file outcomes of apply and undo), draws the groups a chunk at a time
   as the static report does (groups-core.js, groups-page.js), and sends decisions
   as file ids, never paths. Acting lives in review-act.js, the compare dialog in
   review-compare.js. Data reaches the DOM through textContent and attributes only. */
"use strict";
(function () {
  const C = ImgtwinCore;
  const P = ImgtwinPage;
  const { el, actionButton } = C;
  const { getJSON } = ImgtwinServer;
  const $ = (id) => document.getElementById(id);
  const root = document.documentElement;

  // ---- review state -------------------------------------------------------------------------
  // The keepers chosen and files unticked are kept by the server, in the index (review-choices.js):
  // each change is posted, and the groups are drawn with what it holds.
  const outcomeOf = new Map();       // id -> {status, reason} from the last apply
  let doc = { groups: [], errors: [], summary: {} };
  let ids = [];
  let version = 0;
  let states = [];
  let current = -1;                  // index in the drawn view
  let focusIndex = 0;                // member index in the current group

  const list = $("groups");
  const drawn = C.chunkedList({ list, sentinel: $("sentinel"), render: drawGroup, key: (s) => s.gi });
  const choices = ImgtwinChoices({ version: () => version, fileId });
  const acting = ImgtwinActing({ version: () => version, decisions, outcomeOf, markMember, saved: choices.saved });
  const compare = ImgtwinCompare({
    fileId, makeKeeper, setIncluded, closed: (s) => setCurrent(drawn.view.indexOf(s), focusIndex),
  });

  function fileId(s, i) { return ids[s.gi][i]; }

  // data: /api/review; stored: /api/choices for the same version (what the person chose, kept by the server).
  function install(data, stored) {
    doc = data.document;
    ids = data.ids;
    version = data.version;
    states = doc.groups.map((g, gi) => choices.restore(C.newState(g, gi), stored.groups[String(g.id)]));
    outcomeOf.clear();
    $("notes").hidden = !data.notes.length;
    $("notes").textContent = data.notes.join(" ");
    P.renderSummary(doc);
    document.querySelector('[data-needs="confidence"]').hidden = !doc.groups.some((g) => g.keeper_confidence !== undefined);
    P.renderCounts(states);
    renderErrors();
    rebuild();
    root.dataset.version = String(version);
    performance.mark(`imgtwin-groups-${version}`);
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
  function schedulePlanLine() {  // once a frame at most: a key held down changes many groups
    if (planPending) return;
    planPending = true;
    requestAnimationFrame(() => {
      planPending = false;
      P.renderPlanLine(states, version !== 0);
      acting.updateButtons();
    });
  }

  // ---- one group: drawn by groups-page.js, with this page's own marks --------------------------
  // Paths as the page shows them: below the scanned folder they lie in (the header names it).
  let roots = [];
  function shown(path) {
    const folder = roots.find((r) => path.startsWith(r.endsWith("/") ? r : `${r}/`));
    if (!folder || roots.length !== 1) return path;
    return path.slice(folder.length).replace(/^\//, "");
  }
  const hooks = {
    thumb: (s, i) => `/files/${fileId(s, i)}/thumb`,
    select: "Compare at full size (c)",
    path: shown,
    member(li, row, meta, s, i) {
      const id = fileId(s, i);
      li.dataset.file = id;
      const outcome = outcomeOf.get(id);
      if (outcome) li.dataset.outcome = outcome.status;
      if (s === currentState() && i === focusIndex) li.classList.add("focused");
      row.append(
        actionButton("compare-link", "compare", "compare", "Compare with the keeper at full size (c)"),
        actionButton("apart-link", "not a duplicate", "apart",
                     "Remember that this file is not a duplicate of the others: never grouped with them again"));
      if (outcome) meta.append(el("div", "outcome", outcome.reason ? `${outcome.status}: ${outcome.reason}` : outcome.status));
    },
    group(section, s) {
      if (s === currentState()) section.classList.add("current");
      const reset = actionButton("reset-group", "automatic keeper", "reset",
                                 "Forget your keeper and unticked files in this group: back to imgtwin's choice");
      reset.hidden = !C.edited(s);
      section.querySelector("header").append(reset, actionButton(
        "apart-group", "not duplicates", "apart-group",
        "Remember that these files are not duplicates of each other: this group is not shown again"));
    },
  };
  function drawGroup(s) { return P.groupNode(s, hooks); }

  function redraw(s) {
    drawn.refresh(s);
    schedulePlanLine();
  }
  function markMember(id) {
    for (const s of drawn.view.slice(0, drawn.shown)) {
      if (ids[s.gi].includes(id)) { drawn.refresh(s); return; }
    }
  }

  function renderErrors() {
    $("error-list").replaceChildren();
    $("errors").hidden = !doc.errors.length;
    $("error-count").textContent = C.count(doc.errors.length);
    if ($("errors").open) P.fillErrors(doc);
  }
  $("errors").addEventListener("toggle", () => { if ($("errors").open) P.fillErrors(doc); });

  // ---- review actions ------------------------------------------------------------------------
  // Each change is drawn at once and posted (choices.save); a reload or a restart shows it again.
  function makeKeeper(s, i) {
    if (i === s.keeper) return;
    s.keeper = i;
    s.excluded.delete(i);
    changed(s);
  }
  function setIncluded(s, i, on) {
    if (i === s.keeper || C.isReference(s.g.members[i])) return;
    if (on) s.excluded.delete(i);
    else s.excluded.add(i);
    changed(s);
  }
  function resetGroup(s) {  // back to the keeper found, every file ticked; the stored choice forgotten
    s.keeper = C.newState(s.g, s.gi).keeper;
    s.excluded.clear();
    changed(s);
  }
  function changed(s) {
    redraw(s);
    P.renderCounts(states);
    choices.save(s);
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
    if (target && target.dataset.action === "apart-group") { markApart(s, []); return; }
    if (target && target.dataset.action === "reset") { resetGroup(s); return; }
    if (!target || !li) return;
    const i = Number(li.dataset.index);
    // a click on a picture selects it and opens it beside the keeper; keeping it is its "keep" control (change)
    if (target.dataset.action === "compare" || target.dataset.action === "select") compare.open(s, i);
    else if (target.dataset.action === "apart") markApart(s, [fileId(s, i)]);
  });

  // "Not duplicates": kept in the index by the files' contents; the server groups again without them.
  async function markApart(s, files) {
    const reply = await ImgtwinServer.post("/api/not-duplicates", { version, group: s.g.id, files });
    const said = $("marked");
    said.hidden = false;
    said.textContent = reply.ok
      ? `Remembered: ${files.length ? "that file is not a duplicate of the others" : "these files are not duplicates"} ` +
        `(group ${s.g.id}); \`imgtwin mark forget\` undoes it.`
      : `Not remembered: ${reply.data.error}`;
  }
  list.addEventListener("change", (event) => {
    const box = event.target;
    const i = Number(box.closest(".member").dataset.index);
    if (box.dataset.action === "include") setIncluded(stateOf(box), i, box.checked);
    else if (box.dataset.action === "keep" && box.checked) {
      const s = stateOf(box);
      makeKeeper(s, i);
      const node = drawn.node(s);  // drawn again: the focus stays on the radio chosen (keyboard users)
      if (node) node.querySelector(`.member[data-index="${i}"] input[data-action="keep"]`).focus();
    }
  });

  // ---- the list: filter, sort, search, current group -----------------------------------------
  function rebuild() {
    const keep = current >= 0 ? currentState() : null;
    const view = P.view(states, list, $("search").value.trim().toLowerCase());
    current = keep ? view.indexOf(keep) : -1;
    $("empty").hidden = view.length > 0 || version === 0;
    drawn.reset(view);
    schedulePlanLine();
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
    if ($("compare").open) { compare.key(event); return; }
    if ($("help").open || $("confirm").open) return;  // the dialog handles Esc itself
    if (typing(event.target)) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    // on a "keep" radio, Space and the arrows are the radio set's own (choose, move in it)
    if (event.target.dataset.action === "keep" && (event.key === " " || event.key.startsWith("Arrow"))) return;
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
      "c": () => s && compare.open(s, focusIndex),
      "/": () => $("search").focus(),
    };
    const run = keys[event.key];
    if (!run) return;
    event.preventDefault();
    run();
  });

  // ---- help and dialogs ------------------------------------------------------------------------
  document.querySelector('[data-action="help"]').addEventListener("click", () => $("help").showModal());
  $("help").addEventListener("click", (event) => {
    if (event.target.closest('[data-action="close"]') || event.target === $("help")) $("help").close();
  });

  // ---- following the server ------------------------------------------------------------------
  // The groups and the choices stored for them, of one version (asked again while a rescan ends in between).
  async function fetchGroups() {
    await choices.saved();  // what the server holds includes every change posted so far
    let [data, stored] = await Promise.all([getJSON("/api/review"), getJSON("/api/choices")]);
    for (let tries = 0; stored.version !== data.version && tries < 5; tries++) {  // a rescan ended in between
      if (stored.version < data.version) stored = await getJSON("/api/choices");
      else data = await getJSON("/api/review");
    }
    return { data, stored: stored.version === data.version ? stored : { groups: {} } };
  }
  async function loadGroups() {
    const { data, stored } = await fetchGroups();
    if (data.version !== version) install(data, stored);
  }
  async function loadState(review) {
    const state = await getJSON("/api/state");
    roots = state.roots;
    $("roots").textContent = state.roots.join(" · ");
    acting.setBusy(state.busy);
    acting.renderPhase(state.phase, state.message);
    acting.renderProgress(state.progress);
    $("recent-error-list").replaceChildren();
    if (state.progress) for (const e of state.progress.recent_errors) acting.addRecentError(e);
    if (state.job) acting.restoreJob(await getJSON(`/api/jobs/${state.job.id}`));
    if (review) {  // fetched alongside the state: the first groups come one round trip sooner
      const { data, stored } = await review;
      if (data.version > version) install(data, stored);
    }
    if (state.version !== version) await loadGroups();
    return state;
  }
  function follow(after) {
    const source = new EventSource(`/api/events?after=${after}`);
    const on = (kind, fn) => source.addEventListener(kind, (event) => fn(JSON.parse(event.data)));
    on("progress", acting.renderProgress);
    on("scan-error", acting.addRecentError);
    on("phase", (p) => acting.renderPhase(p.phase, p.message));
    on("busy", (b) => acting.setBusy(b.busy));
    on("groups", () => loadGroups());
    on("job", acting.onJob);
    on("outcome", acting.onOutcome);
    on("runs", () => acting.loadRuns());
    on("resync", () => loadState(null));
    source.addEventListener("error", () => { root.dataset.connected = "false"; });
    source.addEventListener("open", () => { root.dataset.connected = "true"; });
  }

  (async function start() {
    const state = await loadState(fetchGroups());
    follow(state.event_id);
    await acting.loadRuns();
    root.dataset.ready = "true";
    performance.mark("imgtwin-ready");
  })().catch((error) => {
    acting.renderPhase("failed", `The page could not reach the server: ${error.message}`);
  });
})();
