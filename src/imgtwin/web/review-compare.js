/* The review app's compare dialog: two members of a group side by side at full size, zoomed
   and panned together, the right one turned like the left where their transform is known.
   review.js creates it with what it needs of the page (ctx) and opens it on a member. */
"use strict";
// ctx: fileId(s, i), makeKeeper(s, i), setIncluded(s, i, on), closed(s) (the dialog was closed on group s).
function ImgtwinCompare(ctx) {
  const C = ImgtwinCore;
  const { el, humanBytes } = C;
  const $ = (id) => document.getElementById(id);
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
      pane.dataset.file = ctx.fileId(s, i);
      pane.dataset.keep = String(i === s.keeper);
      pane.dataset.index = String(i);
      img.hidden = true;
      status.textContent = "loading…";
      img.onload = () => { img.hidden = false; status.textContent = ""; layout(); };
      img.onerror = () => { status.textContent = "cannot show this file"; };
      img.src = `/files/${ctx.fileId(s, i)}/full`;
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
      "keep-right": () => { ctx.makeKeeper(s, cmp.right); loadPanes(); },
      "toggle-right": () => { ctx.setIncluded(s, cmp.right, !C.acted(s, cmp.right)); loadPanes(); },
    };
    if (actions[action]) actions[action]();
  }
  $("compare").addEventListener("click", (event) => {
    const target = event.target.closest("[data-action]");
    if (target) compareAction(target.dataset.action);
  });
  $("compare").addEventListener("close", () => {
    for (const pane of Object.values(panes)) pane.querySelector("img").removeAttribute("src");
    if (cmp.s) ctx.closed(cmp.s);
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

  return { open: openCompare, key: compareKey };
}
