/* The review app's memory of a person's work: the keeper chosen and the files unticked in each group,
   kept by the server in the index (POST /api/choices, read back with the groups), so that a reload or
   a restart of the app shows them again. review.js creates it with what it needs of the page (ctx). */
"use strict";
// ctx: version() (of the groups shown), fileId(s, i).
function ImgtwinChoices(ctx) {
  const { post } = ImgtwinServer;
  const $ = (id) => document.getElementById(id);
  const root = document.documentElement;
  let queue = Promise.resolve();  // one post at a time, in order: the last change of a group is the one kept
  let pending = 0;

  // A group's state (groups-core.js newState) with what the server holds for it: {keep: id|null, excluded: [ids]}.
  function restore(s, stored) {
    if (!stored) return s;
    const ids = s.g.members.map((_, i) => ctx.fileId(s, i));
    const keeper = stored.keep === null ? -1 : ids.indexOf(stored.keep);
    if (keeper >= 0) s.keeper = keeper;
    for (const id of stored.excluded) {
      const i = ids.indexOf(id);
      if (i >= 0 && i !== s.keeper) s.excluded.add(i);
    }
    return s;
  }

  function body(s) {
    const excluded = [...s.excluded].filter((i) => i !== s.keeper && s.g.members[i].reference !== true);
    return { version: ctx.version(), group: s.g.id,
             keep: s.g.members[s.keeper].keep ? null : ctx.fileId(s, s.keeper),  // null: the keeper found
             excluded: excluded.sort((a, b) => a - b).map((i) => ctx.fileId(s, i)) };
  }
  function setPending(n) {
    pending = n;
    root.dataset.choicesPending = String(n);
  }
  // Keeps group s as it is now; says so on the page if the server could not.
  function save(s) {
    const request = body(s);
    setPending(pending + 1);
    queue = queue.then(async () => {
      let reply;
      try {
        reply = await post("/api/choices", request);
      } catch (error) {
        reply = { ok: false, data: { error: error.message } };
      }
      const said = $("saved");
      said.hidden = reply.ok;
      if (!reply.ok) {
        said.textContent = `Your change to group ${request.group} was not kept (a reload would lose it): ` +
          `${reply.data.error}`;
      }
      setPending(pending - 1);
    });
    return queue;
  }
  setPending(0);
  return { restore, save, saved: () => queue };
}
