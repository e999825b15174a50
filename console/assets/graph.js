// The journey graph as SVG, from GET /v1/journeys/{id}/graph: the server lays it out left to right
// (node boxes' top-left x/y in pixels, edges' bend points); this only draws it and keeps its counts fresh.
// Every node element carries data-node-id, data-active, data-entered, data-completed (and the others).

import { clip, count, percent, s } from "./dom.js";

const PAD = 8;
const COUNT_KEYS = ["active", "entered", "completed", "exited", "failed", "sent", "suppressed"];
const TYPE_LABELS = {
  TRIGGER: "Trigger",
  SEND: "Send",
  WAIT: "Wait",
  WAIT_FOR_EVENT: "Wait for event",
  CONDITION: "Condition",
  SPLIT: "Split",
  GOAL_CHECK: "Goal check",
  UPDATE: "Update",
  EXIT: "Exit",
  END: "End",
};

export function typeLabel(type) {
  return TYPE_LABELS[type] || String(type || "").replace(/_/g, " ").toLowerCase();
}

function edgePath(points) {
  if (!points.length) return "";
  const [first, ...rest] = points;
  if (rest.length === 1) return `M${first[0]},${first[1]} L${rest[0][0]},${rest[0][1]}`;
  // Rounded corners between straight runs: a quadratic curve through each bend.
  let d = `M${first[0]},${first[1]}`;
  for (let i = 1; i < points.length - 1; i += 1) {
    const [x, y] = points[i];
    const [nx, ny] = points[i + 1];
    d += ` Q${x},${y} ${(x + nx) / 2},${(y + ny) / 2}`;
  }
  const last = points[points.length - 1];
  return `${d} L${last[0]},${last[1]}`;
}

function pointsOf(edge, byId) {
  if (Array.isArray(edge.points) && edge.points.length >= 2) return edge.points;
  const a = byId.get(edge.source);
  const b = byId.get(edge.target);
  if (!a || !b) return [];
  return [
    [a.x + a.width, a.y + a.height / 2],
    [b.x, b.y + b.height / 2],
  ];
}

/** Where an edge's label goes: its first bend, in the gap right after the source (no node there; each
branch leaves from its own port, so the labels of one node's branches do not overlap). */
function labelPoint(points) {
  if (points.length >= 3) return points[1];
  return [(points[0][0] + points[1][0]) / 2, (points[0][1] + points[1][1]) / 2];
}

/** A branch's line is as thick as its share of those who left the node; a lone edge is plain. */
function strokeWidth(share, branching) {
  return branching && share !== null ? (1.4 + 3.2 * share).toFixed(2) : "1.8";
}

function edgeText(edge, branching) {
  const label = edge.label && edge.label !== "next" ? edge.label : "";
  const share = branching ? percent(edge.share) : "";
  return [label, share].filter(Boolean).join(" · ");
}

function nodeTitle(node) {
  const c = node.counts || {};
  const parts = [`${node.name || node.id} (${typeLabel(node.type)})`, `active now ${c.active ?? 0}`];
  parts.push(`entered ${c.entered ?? 0}`, `completed ${c.completed ?? 0}`);
  if (c.exited) parts.push(`exited ${c.exited}`);
  if (c.failed) parts.push(`failed ${c.failed}`);
  if (node.type === "SEND") parts.push(`sent ${c.sent ?? 0}`, `suppressed ${c.suppressed ?? 0}`);
  return parts.join(", ");
}

/** The small lines under a node's big count: what went through it. */
function statsLines(node) {
  const c = node.counts || {};
  if (node.type === "SEND") {
    const second = [];
    if (c.suppressed) second.push(`${count(c.suppressed)} suppr.`);
    if (c.failed) second.push(`${count(c.failed)} failed`);
    return [`${count(c.sent ?? 0)} sent`, second.join(" · ") || `${count(c.entered ?? 0)} in`];
  }
  const second = [`${count(c.completed ?? 0)} done`];
  if (c.exited) second.push(`${count(c.exited)} out`);
  if (c.failed) second.push(`${count(c.failed)} failed`);
  return [`${count(c.entered ?? 0)} in`, second.join(" · ")];
}

function setCounts(group, node) {
  const c = node.counts || {};
  for (const key of COUNT_KEYS) group.dataset[key] = String(c[key] ?? 0);
  group.classList.toggle("has-active", (c.active ?? 0) > 0);
  group.classList.toggle("has-failed", (c.failed ?? 0) > 0);
  group.setAttribute("aria-label", nodeTitle(node));
}

function drawNode(node, options) {
  const { width: w, height: hgt } = node;
  const c = node.counts || {};
  const group = s("g", {
    class: `node node-${String(node.type).toLowerCase()}`,
    transform: `translate(${node.x},${node.y})`,
    dataset: { nodeId: node.id, type: node.type },
    tabindex: options.onNode ? 0 : undefined,
    role: options.onNode ? "button" : "img",
  });
  setCounts(group, node);
  // Type on top, the name under it across the box, then the big count of who is here now (left) and
  // what went through (right, two small lines).
  const nameChars = Math.max(8, Math.floor((w - 26) / 9.2));
  const [first, second] = statsLines(node);
  group.append(
    s("title", {}, nodeTitle(node)),
    s("rect", { class: "node-box", width: w, height: hgt, rx: 10, ry: 10 }),
    s("rect", { class: "node-accent", x: 0, y: 0, width: 6, height: hgt, rx: 3 }),
    s("text", { class: "node-type", x: 16, y: 20 }, typeLabel(node.type).toUpperCase()),
    s("text", { class: "node-name", x: 16, y: 41 }, clip(node.name || node.id, nameChars)),
    s("text", { class: "node-count", x: 15, y: hgt - 12 }, count(c.active ?? 0)),
    s("text", { class: "node-stats node-stats-1", x: w - 12, y: hgt - 30 }, first),
    s("text", { class: "node-stats node-stats-2", x: w - 12, y: hgt - 13 }, second),
  );
  if (options.onNode) {
    group.addEventListener("click", () => options.onNode(node));
    group.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        options.onNode(node);
      }
    });
  }
  return group;
}

function refreshNode(group, node) {
  const before = group.dataset.active;
  setCounts(group, node);
  group.querySelector("title").textContent = nodeTitle(node);
  group.querySelector(".node-count").textContent = count(node.counts?.active ?? 0);
  const [first, second] = statsLines(node);
  group.querySelector(".node-stats-1").textContent = first;
  group.querySelector(".node-stats-2").textContent = second;
  if (before !== group.dataset.active) {
    group.classList.remove("bump");
    // Restart the highlight animation (reading a layout property flushes the removal).
    void group.getBoundingClientRect();
    group.classList.add("bump");
  }
}

/**
 * Draw `graph` into a new <svg>. options: onNode(node) makes nodes buttons; path [nodeIds] and current
 * (a node id) highlight one enrollment's way through. Returns {svg, update(graph) → bool}: update keeps
 * the drawing and changes counts and edge shares, or returns false when the shape changed (redraw).
 */
export function drawGraph(graph, options = {}) {
  const nodes = graph.nodes || [];
  const edges = graph.edges || [];
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const width = Math.max(graph.width || 0, ...nodes.map((n) => n.x + n.width));
  const height = Math.max(graph.height || 0, ...nodes.map((n) => n.y + n.height));
  const svg = s("svg", {
    class: "graph",
    viewBox: `${-PAD} ${-PAD} ${width + 2 * PAD} ${height + 2 * PAD}`,
    width: width + 2 * PAD,
    height: height + 2 * PAD,
    role: "group",
    "aria-label": `Journey graph: ${nodes.length} nodes`,
    preserveAspectRatio: "xMinYMin meet",
  });
  svg.append(
    s(
      "defs",
      {},
      s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 9, markerHeight: 9,
        markerUnits: "userSpaceOnUse", orient: "auto-start-reverse" },
      s("path", { d: "M0,0 L10,5 L0,10 z", class: "arrow" })),
      s("marker", { id: "arrow-path", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 11, markerHeight: 11,
        markerUnits: "userSpaceOnUse", orient: "auto-start-reverse" },
      s("path", { d: "M0,0 L10,5 L0,10 z", class: "arrow arrow-path" })),
    ),
  );
  const outgoing = new Map();
  for (const edge of edges) outgoing.set(edge.source, (outgoing.get(edge.source) || 0) + 1);

  const path = options.path || [];
  const pathNodes = new Set(path);
  const pathEdges = new Set();
  for (let i = 0; i < path.length - 1; i += 1) pathEdges.add(`${path[i]}→${path[i + 1]}`);
  if (path.length) svg.classList.add("has-path");

  const edgeLayer = s("g", { class: "edges" });
  const labelLayer = s("g", { class: "edge-labels" });
  for (const edge of edges) {
    const found = pointsOf(edge, byId);
    // An edge without a route still gets its (hidden) elements: update() matches them by position.
    const points = found.length >= 2 ? found : [[0, 0], [0, 0]];
    const key = `${edge.source}→${edge.target}`;
    const onPath = pathEdges.has(key);
    const share = typeof edge.share === "number" ? edge.share : null;
    const line = s("path", {
      class: `edge${onPath ? " on-path" : ""}`,
      d: edgePath(points),
      "marker-end": onPath ? "url(#arrow-path)" : "url(#arrow)",
      "stroke-width": strokeWidth(share, (outgoing.get(edge.source) || 0) > 1),
      dataset: { source: edge.source, target: edge.target, label: edge.label || "", count: edge.count ?? 0 },
    });
    line.append(s("title", {}, `${edge.label || "next"}: ${count(edge.count ?? 0)}${share === null ? "" : ` (${percent(share)})`}`));
    if (found.length < 2) line.setAttribute("visibility", "hidden");
    edgeLayer.append(line);
    const text = edgeText(edge, (outgoing.get(edge.source) || 0) > 1);
    const [lx, ly] = labelPoint(points);
    const label = s("g", { class: `edge-label${onPath ? " on-path" : ""}`, transform: `translate(${lx},${ly})`,
      dataset: { source: edge.source, target: edge.target, label: edge.label || "" } });
    const textNode = s("text", { x: 0, y: 4, "text-anchor": "middle" }, text);
    const background = s("rect", { class: "edge-label-bg", rx: 4, ry: 4, height: 18, y: -9 });
    label.append(background, textNode);
    if (!text || found.length < 2) label.setAttribute("visibility", "hidden");
    labelLayer.append(label);
  }
  const nodeLayer = s("g", { class: "nodes" });
  for (const node of nodes) {
    const group = drawNode(node, options);
    if (pathNodes.has(node.id)) group.classList.add("on-path");
    if (options.current && node.id === options.current) group.classList.add("current");
    nodeLayer.append(group);
  }
  svg.append(edgeLayer, nodeLayer, labelLayer);

  // Once the SVG is in the document: shorten each node's name to its box, size each label's background.
  const fitNames = () => {
    for (const group of nodeLayer.children) {
      const text = group.querySelector(".node-name");
      const full = byId.get(group.dataset.nodeId)?.name || group.dataset.nodeId;
      const room = (byId.get(group.dataset.nodeId)?.width || 184) - 26;
      try {
        text.textContent = full;
        let keep = full.length;
        while (keep > 4 && text.getComputedTextLength() > room) {
          keep -= 1;
          text.textContent = clip(full, keep);
        }
      } catch {
        // not rendered (a hidden tab): the first cut stays
      }
    }
  };
  const fitLabels = () => {
    for (const label of labelLayer.children) {
      const text = label.querySelector("text");
      const rect = label.querySelector("rect");
      let w = 0;
      try {
        w = text.getComputedTextLength();
      } catch {
        w = text.textContent.length * 7;
      }
      rect.setAttribute("width", (w + 12).toFixed(1));
      rect.setAttribute("x", (-(w + 12) / 2).toFixed(1));
    }
  };
  requestAnimationFrame(() => {
    fitNames();
    fitLabels();
  });

  const shape = JSON.stringify([nodes.map((n) => [n.id, n.x, n.y]), edges.map((e) => [e.source, e.target])]);
  return {
    svg,
    update(next) {
      const nextShape = JSON.stringify([
        (next.nodes || []).map((n) => [n.id, n.x, n.y]),
        (next.edges || []).map((e) => [e.source, e.target]),
      ]);
      if (nextShape !== shape) return false;
      for (const node of next.nodes || []) {
        const group = nodeLayer.querySelector(`[data-node-id="${CSS.escape(node.id)}"]`);
        if (group) refreshNode(group, node);
      }
      const nextOutgoing = new Map();
      for (const edge of next.edges || []) nextOutgoing.set(edge.source, (nextOutgoing.get(edge.source) || 0) + 1);
      const lines = edgeLayer.querySelectorAll("path.edge");
      const labels = labelLayer.querySelectorAll("g.edge-label");
      (next.edges || []).forEach((edge, index) => {
        const line = lines[index];
        const label = labels[index];
        if (!line || !label) return;
        const share = typeof edge.share === "number" ? edge.share : null;
        line.setAttribute("stroke-width", strokeWidth(share, (nextOutgoing.get(edge.source) || 0) > 1));
        line.dataset.count = String(edge.count ?? 0);
        line.querySelector("title").textContent =
          `${edge.label || "next"}: ${count(edge.count ?? 0)}${share === null ? "" : ` (${percent(share)})`}`;
        const text = edgeText(edge, (nextOutgoing.get(edge.source) || 0) > 1);
        label.querySelector("text").textContent = text;
        if (text) label.removeAttribute("visibility");
        else label.setAttribute("visibility", "hidden");
      });
      requestAnimationFrame(fitLabels);
      return true;
    },
  };
}
