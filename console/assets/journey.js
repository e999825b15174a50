// A journey: its graph laid out left to right, each node with its live counts, each edge its label and
// share; a version selector and a date range; refreshed every 3 seconds without reloading the page.

import { get, seg, url } from "./api.js";
import { clear, count, h } from "./dom.js";
import { drawGraph, typeLabel } from "./graph.js";
import { errorState, journeyHeader, loadJourney, state, updateTotals } from "./ui.js";

const REFRESH_MS = 3000;

function isoDay(value, endOfDay) {
  if (!value) return undefined;
  const [year, month, day] = value.split("-").map(Number);
  const date = new Date(year, month - 1, day + (endOfDay ? 1 : 0));
  return date.toISOString();
}

export function graphUrl(journeyId, { version, from, to } = {}) {
  return url(`/v1/journeys/${seg(journeyId)}/graph`, { version, from: isoDay(from, false), to: isoDay(to, true) });
}

export async function renderJourney(ctx) {
  const [journeyId] = ctx.params;
  let journey = await loadJourney(journeyId);
  if (!ctx.current()) return;
  const base = `/console/journeys/${seg(journeyId)}`;
  ctx.crumbs([["Journeys", "/console"], [journey.name]]);
  const filters = {
    version: ctx.query.get("version") || "",
    from: ctx.query.get("from") || "",
    to: ctx.query.get("to") || "",
  };

  const head = h("div", {});
  const drawHead = () => {
    clear(head).append(journeyHeader(journey, "graph", { onChanged: async () => {
      journey = await loadJourney(journeyId);
      drawHead();
      await refresh();
    } }));
  };
  drawHead();

  const versionSelect = h("select", { id: "version", name: "version" });
  const fromInput = h("input", { type: "date", id: "from", name: "from", value: filters.from });
  const toInput = h("input", { type: "date", id: "to", name: "to", value: filters.to });
  const live = h("span", { class: "live", id: "live", "aria-live": "off" }, "");
  const controls = h("form", { class: "controls", id: "graph-controls" },
    h("label", { for: "version" }, "Version ", versionSelect),
    h("label", { for: "from" }, "From ", fromInput),
    h("label", { for: "to" }, "To ", toInput),
    h("button", { type: "button", class: "button small", id: "clear-range", onclick: () => {
      fromInput.value = "";
      toInput.value = "";
      changed();
    } }, "All time"),
    h("span", { class: "spacer" }),
    live);
  controls.addEventListener("submit", (event) => event.preventDefault());
  const canvas = h("div", { class: "graph-wrap", id: "graph" });
  const hint = h("p", { class: "help" },
    "Big numbers: customers at the node now. Select a node to list who is there. Edge labels: branch and share of those who left the node.");
  const nodeTable = h("div", { id: "node-table" });
  ctx.main.append(head, controls, canvas, hint, nodeTable);

  let drawing = null;
  let versionsShown = "";
  const setVersions = (graph) => {
    const key = JSON.stringify([graph.versions, graph.version, journey.version]);
    if (key === versionsShown) return;
    versionsShown = key;
    const versions = (graph.versions || []).slice().reverse();
    clear(versionSelect).append(...(versions.length
      ? versions.map((v) => h("option", { value: String(v), selected: v === graph.version },
        `v${v}${v === journey.version ? " (live)" : ""}`))
      : [h("option", { value: "" }, "draft (never published)")]));
  };
  const openNode = (node) => ctx.navigate(`${base}/enrollments?node=${encodeURIComponent(node.id)}`);

  const show = (graph) => {
    setVersions(graph);
    if (!(graph.nodes || []).length) {
      drawing = null;
      clear(canvas).append(state({ title: "This version has no nodes", text: "Publish a journey with a graph to see it here." }));
      return;
    }
    drawTable(graph);
    if (drawing && drawing.update(graph)) return;
    drawing = drawGraph(graph, { onNode: openNode });
    clear(canvas).append(drawing.svg);
  };

  let tableShown = "";
  const drawTable = (graph) => {
    const nodes = (graph.nodes || []).filter((n) => n.type !== "TRIGGER");
    const key = JSON.stringify(nodes.map((n) => [n.id, n.name, n.counts]));
    if (key === tableShown) return;
    tableShown = key;
    const columns = [["active", "Active now"], ["entered", "Entered"], ["completed", "Completed"], ["exited", "Exited"],
      ["failed", "Failed"], ["sent", "Sent"], ["suppressed", "Suppressed"]];
    clear(nodeTable).append(h("table", { class: "table node-table" },
      h("caption", { class: "visually-hidden" }, "Counts at each node"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "At each node"),
        columns.map(([, label]) => h("th", { scope: "col", class: "num" }, label)))),
      h("tbody", {}, nodes.map((n) => h("tr", { dataset: { nodeId: n.id } },
        h("td", {}, h("a", { href: `${base}/enrollments?node=${encodeURIComponent(n.id)}`, "data-nav": true }, n.name || n.id),
          h("span", { class: "muted small" }, ` ${typeLabel(n.type)}`)),
        columns.map(([k]) => h("td", { class: `num${k === "active" ? " big" : ""}` },
          (k === "sent" || k === "suppressed") && n.type !== "SEND" ? "" : count(n.counts?.[k] ?? 0))))))));
  };
  const stamp = () => {
    live.textContent = `Live · updated ${new Date().toLocaleTimeString()}`;
    live.dataset.updatedAt = String(Date.now());
  };

  let inFlight = false;
  const refresh = async () => {
    if (inFlight) return;
    inFlight = true;
    try {
      const [graph, fresh] = await Promise.all([get(graphUrl(journeyId, filters)), loadJourney(journeyId)]);
      if (!ctx.current()) return;
      if (fresh.status !== journey.status || fresh.version !== journey.version) {
        journey = fresh;
        drawHead();
      } else {
        journey = fresh;
        updateTotals(head, fresh.totals || {});
      }
      show(graph);
      stamp();
    } finally {
      inFlight = false;
    }
  };

  const changed = async () => {
    filters.version = versionSelect.value;
    filters.from = fromInput.value;
    filters.to = toInput.value;
    const params = new URLSearchParams(Object.entries(filters).filter(([, v]) => v));
    history.replaceState(null, "", params.toString() ? `${base}?${params}` : base);
    drawing = null;
    try {
      await refresh();
    } catch (failure) {
      clear(canvas).append(errorState(failure, { retry: changed }));
    }
  };
  versionSelect.addEventListener("change", changed);
  fromInput.addEventListener("change", changed);
  toInput.addEventListener("change", changed);

  try {
    await refresh();
  } catch (failure) {
    if (failure.status === 401 || failure.status === 0) throw failure;
    if (!journey.version) {
      clear(canvas).append(state({ id: "state-unpublished", title: "Not published yet",
        text: "The graph with its live counts appears here once the journey is published." }));
    } else {
      clear(canvas).append(errorState(failure, { retry: changed, what: "this journey's graph" }));
    }
  }
  ctx.every(REFRESH_MS, refresh);
}
