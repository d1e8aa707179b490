/* The review app's side of acting and scanning: the scan panel, the buttons that depend on
   what runs, apply (choose, preview, confirm), the outcomes of a run as they come, undo and
   the past runs. review.js creates it with what it needs of the page (ctx). */
"use strict";
// Talking to the server: JSON both ways, the token on every POST.
const ImgtwinServer = (function () {
  const token = document.querySelector('meta[name="imgtwin-token"]').content;
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
  return { getJSON, post };
})();

// ctx: version() (of the groups shown), decisions() (what the page asks to act on),
// outcomeOf (file id -> last outcome, kept by the page), markMember(id) (draw a file's group again),
// saved() (a promise: the page's choices posted so far are kept).
function ImgtwinActing(ctx) {
  const { el, actionButton, count, humanBytes } = ImgtwinCore;
  const { getJSON, post } = ImgtwinServer;
  const $ = (id) => document.getElementById(id);
  const root = document.documentElement;
  let busy = null;
  let job = null;

  // ---- scan panel ------------------------------------------------------------------------------
  const PHASES = { idle: "Starting…", scanning: "Scanning", grouping: "Grouping", ready: "Ready", failed: "Scan failed" };
  function renderPhase(name, message) {
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

  // ---- buttons that depend on what runs --------------------------------------------------------
  function updateButtons() {
    const idle = busy === null;
    document.querySelector('[data-action="rescan"]').disabled = !idle;
    document.querySelector('[data-action="stop-scan"]').hidden = busy !== "scan";
    const files = Number($("plan").dataset.files || 0);
    document.querySelector('[data-action="apply"]').disabled = !idle || ctx.version() === 0 || files === 0;
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
    return { version: ctx.version(), action: $("action").value, move_to: $("move-to").value || null, groups: ctx.decisions() };
  }
  document.querySelector('[data-action="apply"]').addEventListener("click", async () => {
    await ctx.saved();  // the choices posted before the click are the ones the server's plan honours
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
    li.value = o.n + 1;  // its number in the run, also once the first ones are dropped below
    ol.append(li);
    while (ol.childElementCount > 500) ol.firstElementChild.remove();
    ol.scrollTop = ol.scrollHeight;
    if (job.kind === "apply" && o.file) {
      ctx.outcomeOf.set(o.file, { status: o.status, reason: o.reason });
      ctx.markMember(o.file);
    }
    return true;
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
        const button = actionButton("", "Undo", "undo-run");
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
  function setBusy(value) {
    busy = value;
    updateButtons();
  }
  // A run the server reports: the one the page shows, or a new one.
  function restoreJob(full) {
    job = Object.assign({}, full, { items: [] });
    $("outcomes").replaceChildren();
    for (const o of full.items) addOutcome(o);
    renderJob();
  }
  function onJob(j) {
    if (!job || job.id !== j.id) startJob(j);
    else { Object.assign(job, j); renderJob(); }
  }
  function onOutcome(o) {
    if (!addOutcome(o)) return;
    job.counts = job.counts || {};
    job.counts[o.status] = (job.counts[o.status] || 0) + 1;
    if (o.status === "done" && job.kind === "apply") job.bytes = (job.bytes || 0) + (o.size || 0);
    renderJob();
  }

  return { renderPhase, renderProgress, addRecentError, updateButtons, setBusy, restoreJob, onJob, onOutcome,
           loadRuns };
}
