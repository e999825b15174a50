// A journey's migrations: map the nodes of one version onto another, see what a dry run would move,
// start the migration and follow its progress.

import { get, post, seg } from "./api.js";
import { badge, clear, confirm, count, describe, h } from "./dom.js";
import { typeLabel } from "./graph.js";
import { graphUrl } from "./journey.js";
import { journeyHeader, loadJourney, state } from "./ui.js";

const STAY = "";

export async function renderMigrations(ctx) {
  const [journeyId] = ctx.params;
  const journey = await loadJourney(journeyId);
  if (!ctx.current()) return;
  const base = `/console/journeys/${seg(journeyId)}`;
  const apiBase = `/v1/journeys/${seg(journeyId)}/migrations`;
  ctx.crumbs([["Journeys", "/console"], [journey.name, base], ["Migrations"]]);
  ctx.main.append(journeyHeader(journey, "migrations"));
  const live = journey.version ? await get(graphUrl(journeyId)) : { versions: [] };
  const versions = live.versions || [];
  if (versions.length < 2) {
    ctx.main.append(state({ id: "state-one-version", title: "Nothing to migrate between",
      text: [`This journey has ${versions.length ? "one published version" : "no published version"}.`,
        "Publish a corrected version; then customers waiting in the old one can be moved onto it here."] }));
    return;
  }
  const fromSelect = h("select", { id: "from-version", name: "fromVersion" },
    versions.map((v, i) => h("option", { value: v, selected: i === versions.length - 2 }, `v${v}`)));
  const toSelect = h("select", { id: "to-version", name: "toVersion" },
    versions.map((v, i) => h("option", { value: v, selected: i === versions.length - 1 }, `v${v}`)));
  const mapBox = h("div", { id: "node-map" });
  const resultBox = h("div", { id: "dry-run" });
  const progressBox = h("div", { id: "migration-progress" });
  const dryRunButton = h("button", { type: "button", class: "button", id: "dry-run-button" }, "Dry run");
  const startButton = h("button", { type: "button", class: "button primary", id: "start-migration" }, "Start migration…");
  ctx.main.append(
    h("section", { class: "panel" },
      h("h2", {}, "Move in-flight enrollments to another version"),
      h("p", { class: "help" }, "Each ACTIVE enrollment of the old version at a mapped node continues at the node it maps to, keeping its context and deadlines; those at unmapped nodes stay where they are."),
      h("div", { class: "controls" },
        h("label", { for: "from-version" }, "From ", fromSelect),
        h("label", { for: "to-version" }, "To ", toSelect)),
      mapBox,
      h("div", { class: "form-buttons" }, dryRunButton, startButton)),
    resultBox, progressBox);

  let fromNodes = [];
  let toNodes = [];
  let lastDryRun = null;
  const selects = new Map();

  const drawMap = async () => {
    clear(mapBox);
    clear(resultBox);
    lastDryRun = null;
    const from = Number(fromSelect.value);
    const to = Number(toSelect.value);
    if (from === to) {
      mapBox.append(h("p", { class: "notice" }, "Choose two different versions."));
      return;
    }
    const [a, b] = await Promise.all([get(graphUrl(journeyId, { version: from })), get(graphUrl(journeyId, { version: to }))]);
    fromNodes = (a.nodes || []).filter((n) => n.type !== "TRIGGER");
    toNodes = (b.nodes || []).filter((n) => n.type !== "TRIGGER");
    const targets = new Set(toNodes.map((n) => n.id));
    selects.clear();
    mapBox.append(h("table", { class: "table map-table" },
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, `Node in v${from}`),
        h("th", { scope: "col", class: "num" }, "Active now"),
        h("th", { scope: "col" }, `Continues in v${to} at`))),
      h("tbody", {}, fromNodes.map((node) => {
        const select = h("select", { "aria-label": `Where ${node.name || node.id} goes`, dataset: { from: node.id } },
          h("option", { value: STAY }, "— stays in the old version"),
          toNodes.map((t) => h("option", { value: t.id, selected: t.id === node.id && targets.has(node.id) },
            `${t.name || t.id} · ${typeLabel(t.type)}`)));
        selects.set(node.id, select);
        return h("tr", {},
          h("td", {}, h("strong", {}, node.name || node.id), h("span", { class: "muted small" }, ` ${typeLabel(node.type)}`)),
          h("td", { class: "num big" }, count(node.counts?.active ?? 0)),
          h("td", {}, select));
      }))));
  };

  const plan = (dryRun) => {
    const nodeMap = {};
    for (const [from, select] of selects) if (select.value !== STAY) nodeMap[from] = select.value;
    return { fromVersion: Number(fromSelect.value), toVersion: Number(toSelect.value), nodeMap, dryRun };
  };
  const nameIn = (nodes, id) => (id === null ? "(not at a node yet)" : nodes.find((n) => n.id === id)?.name || id);

  dryRunButton.addEventListener("click", async () => {
    clear(resultBox);
    try {
      const answer = await post(apiBase, plan(true));
      lastDryRun = answer;
      const order = (id) => {
        const index = fromNodes.findIndex((n) => n.id === id);
        return index < 0 ? fromNodes.length : index;
      };
      answer.moves.sort((a, b) => order(a.fromNodeId) - order(b.fromNodeId));
      answer.unmapped.sort((a, b) => order(a.nodeId) - order(b.nodeId));
      const moving = answer.moves.reduce((sum, m) => sum + m.count, 0);
      const staying = answer.unmapped.reduce((sum, m) => sum + m.count, 0);
      resultBox.append(h("section", { class: "panel" },
        h("h2", {}, `Dry run: ${count(moving)} would move, ${count(staying)} would stay`),
        h("table", { class: "table", id: "dry-run-table" },
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, `From (v${answer.fromVersion})`),
            h("th", { scope: "col" }, `To (v${answer.toVersion})`), h("th", { scope: "col", class: "num" }, "Enrollments"))),
          h("tbody", {},
            answer.moves.map((m) => h("tr", { class: m.count ? "" : "muted" }, h("td", {}, nameIn(fromNodes, m.fromNodeId)), h("td", {}, nameIn(toNodes, m.toNodeId)),
              h("td", { class: "num big" }, count(m.count)))),
            answer.unmapped.map((m) => h("tr", { class: "muted" }, h("td", {}, nameIn(fromNodes, m.nodeId)), h("td", {}, "stays"),
              h("td", { class: "num" }, count(m.count))))))));
    } catch (failure) {
      if (failure.status === 401) {
        ctx.refused();
        return;
      }
      resultBox.append(h("p", { class: "error", role: "alert" }, describe(failure)));
    }
  });

  startButton.addEventListener("click", async () => {
    const body = plan(false);
    const mapped = Object.keys(body.nodeMap).length;
    const started = await confirm({
      title: `Move enrollments from v${body.fromVersion} to v${body.toVersion}?`,
      body: [h("p", {}, `${mapped} node(s) mapped. Enrollments at them continue in v${body.toVersion}; this cannot be undone.`),
        lastDryRun ? h("p", {}, `The last dry run counted ${count(lastDryRun.moves.reduce((s, m) => s + m.count, 0))} to move.`) : null],
      ok: "Start migration",
      run: () => post(apiBase, body),
    });
    if (!started) return;
    sessionStorage.setItem(`journeys.console.migration.${journeyId}`, started.id);
    follow(started.id);
  });

  let following = null;
  const follow = (migrationId) => {
    following = migrationId;
    const poll = async () => {
      if (following !== migrationId || !ctx.current()) return;
      let m;
      try {
        m = await get(`${apiBase}/${seg(migrationId)}`);
      } catch (failure) {
        clear(progressBox).append(h("p", { class: "error" }, describe(failure)));
        return;
      }
      const total = lastDryRun ? lastDryRun.moves.reduce((s, x) => s + x.count, 0) : null;
      const done = m.moved + m.skipped + m.failed;
      clear(progressBox).append(h("section", { class: "panel", dataset: { status: m.status } },
        h("h2", {}, "Migration ", badge(m.status)),
        total ? h("progress", { max: Math.max(total, done), value: done, "aria-label": "Progress" }) : null,
        h("dl", { class: "totals" },
          [["moved", m.moved], ["skipped", m.skipped], ["failed", m.failed]].map(([label, value]) =>
            h("div", { class: `total total-${label}` }, h("dt", {}, label), h("dd", {}, count(value))))),
        m.error ? h("p", { class: "error" }, m.error) : null));
      if (m.status === "RUNNING") setTimeout(poll, 1500);
    };
    poll();
  };
  ctx.onLeave(() => {
    following = null;
  });

  fromSelect.addEventListener("change", drawMap);
  toSelect.addEventListener("change", drawMap);
  await drawMap();
  const previous = sessionStorage.getItem(`journeys.console.migration.${journeyId}`);
  if (previous) follow(previous);
}
