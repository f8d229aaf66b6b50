// The lineage tree: thumbnails laid out by Python (layer, lane), branch lines in one SVG
// underneath, everything inside one scroll box. Called again with new data on every
// change: the scroll box and its listeners stay, the drawing inside is replaced.
export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  const d = data || { nodes: [] };
  let scroll = parentElement.querySelector(".lt-scroll");
  if (!scroll) {
    scroll = document.createElement("div");
    scroll.className = "lt-scroll";
    scroll.setAttribute("role", "group");
    scroll.setAttribute("aria-label", "Lineage of the conversation's images");
    parentElement.appendChild(scroll);
    scroll._lt = { seq: 0 };
    scroll.addEventListener("click", (event) => {
      const cell = event.target.closest(".lt-node");
      if (!cell || !scroll.contains(cell)) return;
      scroll._lt.seq += 1;
      // Outline it at once; Python's next drawing confirms it (or moves it).
      scroll.querySelectorAll(".lt-selected").forEach((c) => c.classList.remove("lt-selected"));
      cell.classList.add("lt-selected");
      scroll._lt.send("click", { id: cell.dataset.id, seq: scroll._lt.seq });
    });
  }
  scroll._lt.send = setTriggerValue;
  scroll.style.maxHeight = `${d.max_height || 480}px`;

  const t = d.thumb || 72;
  const down = d.direction !== "right";
  const cw = t + 12; // a cell: the thumbnail, its label and one line of instruction
  const ch = t + 44;
  const gx = down ? 14 : 30; // gaps: the branch lines run in them
  const gy = down ? 26 : 10;
  const pos = (n) => down
    ? { x: n.lane * (cw + gx), y: n.layer * (ch + gy) }
    : { x: n.layer * (cw + gx), y: n.lane * (ch + gy) };

  const byId = new Map();
  let width = 0;
  let height = 0;
  for (const n of d.nodes) {
    const p = pos(n);
    byId.set(n.id, { n, p });
    width = Math.max(width, p.x + cw);
    height = Math.max(height, p.y + ch);
  }

  const canvas = document.createElement("div");
  canvas.className = "lt-canvas";
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;

  const NS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("class", "lt-edges");
  svg.setAttribute("width", width);
  svg.setAttribute("height", height);
  svg.setAttribute("aria-hidden", "true");
  const frag = document.createDocumentFragment();
  for (const { n, p } of byId.values()) {
    const from = n.parent && byId.get(n.parent);
    if (!from) continue;
    const q = from.p;
    let x1, y1, x2, y2, path;
    if (down) {
      x1 = q.x + cw / 2; y1 = q.y + ch; x2 = p.x + cw / 2; y2 = p.y;
      const ym = (y1 + y2) / 2;
      path = x1 === x2 ? `M${x1} ${y1}V${y2}` : `M${x1} ${y1}C${x1} ${ym},${x2} ${ym},${x2} ${y2}`;
    } else {
      x1 = q.x + cw; y1 = q.y + t / 2 + 4; x2 = p.x; y2 = p.y + t / 2 + 4;
      const xm = (x1 + x2) / 2;
      path = y1 === y2 ? `M${x1} ${y1}H${x2}` : `M${x1} ${y1}C${xm} ${y1},${xm} ${y2},${x2} ${y2}`;
    }
    const edge = document.createElementNS(NS, "path");
    edge.setAttribute("d", path);
    edge.setAttribute("class", n.left_behind ? "lt-edge lt-left" : "lt-edge");
    edge.dataset.from = n.parent;
    edge.dataset.to = n.id;
    frag.appendChild(edge);
  }
  svg.appendChild(frag);
  canvas.appendChild(svg);

  const cells = document.createDocumentFragment();
  for (const { n, p } of byId.values()) {
    const cell = document.createElement("button");
    cell.type = "button";
    cell.className = "lt-node";
    if (n.is_head) cell.classList.add("lt-head");
    if (n.left_behind) cell.classList.add("lt-left");
    if (n.id === d.selected) cell.classList.add("lt-selected");
    cell.dataset.id = n.id;
    cell.style.left = `${p.x}px`;
    cell.style.top = `${p.y}px`;
    cell.style.width = `${cw}px`;
    cell.style.height = `${ch}px`;
    cell.title = n.title;
    cell.setAttribute("aria-label", n.title);
    if (n.is_head) cell.setAttribute("aria-current", "true");
    const box = document.createElement("span");
    box.className = "lt-thumb";
    box.style.width = `${t}px`;
    box.style.height = `${t}px`;
    if (n.src) {
      const img = document.createElement("img");
      img.src = n.src;
      img.alt = n.label;
      img.decoding = "async";
      box.appendChild(img);
    } else {
      box.classList.add("lt-missing");
      box.textContent = "no image";
    }
    if (n.is_head) {
      const badge = document.createElement("span");
      badge.className = "lt-badge";
      badge.textContent = "head";
      box.appendChild(badge);
    }
    const label = document.createElement("span");
    label.className = "lt-label";
    label.textContent = n.label;
    const sub = document.createElement("span");
    sub.className = "lt-sub";
    sub.textContent = n.sub;
    cell.append(box, label, sub);
    cells.appendChild(cell);
  }
  canvas.appendChild(cells);

  const keep = { top: scroll.scrollTop, left: scroll.scrollLeft };
  scroll.replaceChildren(canvas);
  const head = d.nodes.find((n) => n.is_head);
  if (head && scroll._lt.head !== head.id) {
    // A new head (or the first drawing): bring it into view inside the box, never by
    // scrolling the page.
    scroll._lt.head = head.id;
    const p = byId.get(head.id).p;
    scroll.scrollTop = Math.max(0, p.y - (scroll.clientHeight - ch) / 2);
    scroll.scrollLeft = Math.max(0, p.x - (scroll.clientWidth - cw) / 2);
  } else {
    scroll.scrollTop = keep.top;
    scroll.scrollLeft = keep.left;
  }
  scroll._lt.draws = (scroll._lt.draws || 0) + 1;
  scroll.dataset.draws = String(scroll._lt.draws); // for tests: how often it was drawn
  scroll.dataset.ready = "1";
}
