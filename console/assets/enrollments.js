// A journey's enrollments: filtered by status and by the node they are at, and a finder by customer id
// (the id goes into the path of an API call, never into the console's own URL).

import { get, seg, url } from "./api.js";
import { badge, clear, count, describe, h, relative, when } from "./dom.js";
import { graphUrl } from "./journey.js";
import { code, journeyHeader, loadJourney, state } from "./ui.js";

const STATUSES = ["", "ACTIVE", "COMPLETED", "EXITED", "FAILED"];
const PAGE = 50;
const SCAN_LIMIT = 200; // per API call while filtering by node
const SCAN_PAGES = 10; // at most 2,000 enrollments scanned for a node filter

export async function renderEnrollments(ctx) {
  const [journeyId] = ctx.params;
  const journey = await loadJourney(journeyId);
  if (!ctx.current()) return;
  const base = `/console/journeys/${seg(journeyId)}`;
  ctx.crumbs([["Journeys", "/console"], [journey.name, base], ["Enrollments"]]);
  let nodes = [];
  try {
    nodes = (await get(graphUrl(journeyId))).nodes || [];
  } catch {
    nodes = (journey.nodes || []).map((n) => ({ id: n.id, name: n.name, type: n.type }));
  }
  const names = new Map(nodes.map((n) => [n.id, n.name || n.id]));
  const filters = { status: ctx.query.get("status") || "", node: ctx.query.get("node") || "", page: 1 };
  if (!STATUSES.includes(filters.status)) filters.status = "";
  if (filters.node && !filters.status) filters.status = "ACTIVE";

  const statusSelect = h("select", { id: "enrollment-status", name: "status" },
    STATUSES.map((v) => h("option", { value: v, selected: v === filters.status }, v ? v.toLowerCase() : "all")));
  const nodeSelect = h("select", { id: "enrollment-node", name: "node" },
    h("option", { value: "" }, "any node"),
    nodes.filter((n) => n.type !== "TRIGGER").map((n) =>
      h("option", { value: n.id, selected: n.id === filters.node }, `${n.name || n.id}${n.name && n.name !== n.id ? ` (${n.id})` : ""}`)));
  const customerInput = h("input", { type: "search", id: "customer-id", name: "customer", autocomplete: "off",
    placeholder: "customer id", "aria-label": "Customer id" });
  const finder = h("form", { class: "finder", id: "finder", role: "search" },
    customerInput,
    h("button", { type: "submit", class: "button small" }, "Find"));
  const listing = h("div", { id: "enrollments" });
  const pager = h("div", { class: "pager" });
  const note = h("p", { class: "help", id: "enrollments-note" });
  ctx.main.append(
    journeyHeader(journey, "enrollments"),
    h("div", { class: "controls" },
      h("label", { for: "enrollment-status" }, "Status ", statusSelect),
      h("label", { for: "enrollment-node" }, "At node ", nodeSelect),
      h("span", { class: "spacer" }),
      h("span", { class: "muted" }, "Find a customer"), finder),
    note, listing, pager,
  );

  let mode = "list";
  let shown = "";
  const render = (rows, meta) => {
    const key = JSON.stringify([mode, filters, rows, meta]);
    if (key === shown) return;
    shown = key;
    clear(listing);
    clear(pager);
    if (!rows.length) {
      listing.append(emptyState(journey, filters, mode));
      return;
    }
    listing.append(table(rows, names, base));
    if (meta && meta.totalPages > 1) {
      pager.append(
        h("button", { type: "button", class: "button small", disabled: filters.page <= 1,
          onclick: () => { filters.page -= 1; load(); } }, "← Newer"),
        h("span", { class: "muted" }, `page ${filters.page} of ${meta.totalPages} · ${count(meta.total)} enrollments`),
        h("button", { type: "button", class: "button small", disabled: filters.page >= meta.totalPages,
          onclick: () => { filters.page += 1; load(); } }, "Older →"));
    }
  };

  const load = async () => {
    if (mode !== "list") return;
    const path = `/v1/journeys/${seg(journeyId)}/enrollments`;
    if (!filters.node) {
      const answer = await get(url(path, { status: filters.status, page: filters.page, limit: PAGE }));
      if (!ctx.current() || mode !== "list") return;
      note.textContent = "";
      render(answer.data, answer.meta);
      return;
    }
    // The API filters by status; the node is matched here, over the newest enrollments.
    const found = [];
    let scanned = 0;
    let total = 0;
    for (let page = 1; page <= SCAN_PAGES; page += 1) {
      const answer = await get(url(path, { status: filters.status, page, limit: SCAN_LIMIT }));
      total = answer.meta.total;
      scanned += answer.data.length;
      found.push(...answer.data.filter((e) => e.currentStepId === filters.node));
      if (page >= answer.meta.totalPages) break;
    }
    if (!ctx.current() || mode !== "list") return;
    note.textContent = scanned < total
      ? `${count(found.length)} at “${names.get(filters.node) || filters.node}” among the ${count(scanned)} newest of ${count(total)} enrollments.`
      : `${count(found.length)} at “${names.get(filters.node) || filters.node}”.`;
    render(found, null);
  };

  const syncUrl = () => {
    const params = new URLSearchParams(Object.entries({ status: filters.status, node: filters.node }).filter(([, v]) => v));
    history.replaceState(null, "", params.toString() ? `${base}/enrollments?${params}` : `${base}/enrollments`);
  };
  statusSelect.addEventListener("change", () => {
    filters.status = statusSelect.value;
    filters.page = 1;
    mode = "list";
    syncUrl();
    load();
  });
  nodeSelect.addEventListener("change", () => {
    filters.node = nodeSelect.value;
    filters.page = 1;
    mode = "list";
    syncUrl();
    load();
  });
  finder.addEventListener("submit", async (event) => {
    event.preventDefault();
    const customerId = customerInput.value.trim();
    if (!customerId) {
      mode = "list";
      await load();
      return;
    }
    mode = "finder";
    let answer;
    try {
      answer = await get(url(`/v1/customers/${seg(customerId)}/enrollments`, { limit: 200 }));
    } catch (failure) {
      if (failure.status === 401) {
        ctx.refused();
        return;
      }
      clear(note).append(h("span", { class: "error" }, describe(failure)));
      return;
    }
    const rows = answer.data.filter((e) => e.journeyId === journeyId);
    clear(note);
    note.append(h("span", {}, `Enrollments of customer “${customerId}” in this journey. `),
      h("button", { type: "button", class: "link", onclick: () => {
        customerInput.value = "";
        mode = "list";
        load();
      } }, "Back to the list"));
    render(rows, null);
  });

  await load();
  ctx.every(5000, load);
}

function emptyState(journey, filters, mode) {
  if (mode === "finder") {
    return state({ id: "state-no-match", title: "No enrollment of that customer here",
      text: "The customer id is matched exactly. They may be in another journey, or not entered yet." });
  }
  if (filters.status || filters.node) {
    return state({ id: "state-none-filtered", title: "No enrollments match",
      text: "Nobody is here with these filters. Choose another status or node." });
  }
  return state({ id: "state-no-enrollments", title: "No enrollments yet", text: [
    journey.status === "PUBLISHED"
      ? h("span", {}, "Nobody has entered this journey. Send its trigger event, or enroll a customer with ",
        code(`POST /v1/journeys/${journey.id}/enrollments`), ".")
      : "Publish the journey: customers enter only a published journey.",
  ] });
}

function table(rows, names, base) {
  return h("table", { class: "table enrollments-table" },
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "Customer"),
      h("th", { scope: "col" }, "Status"),
      h("th", { scope: "col" }, "At node"),
      h("th", { scope: "col" }, "Waiting until"),
      h("th", { scope: "col", class: "num" }, "Version"),
      h("th", { scope: "col" }, "Entered"))),
    h("tbody", {}, rows.map((e) => h("tr", { dataset: { enrollmentId: e.id, status: e.status } },
      h("td", {}, h("a", { href: `${base}/enrollments/${seg(e.id)}`, "data-nav": true, class: "customer" }, e.customerId),
        e.entryNumber > 1 ? h("span", { class: "muted small" }, ` entry ${e.entryNumber}`) : null,
        e.entryKey ? h("span", { class: "muted small" }, ` key ${e.entryKey}`) : null),
      h("td", {}, badge(e.status), e.converted ? h("span", { class: "badge badge-converted" }, "CONVERTED") : null),
      h("td", {}, e.currentStepId ? (names.get(e.currentStepId) || e.currentStepId) : "–"),
      h("td", {}, e.waitingUntil ? h("span", { title: when(e.waitingUntil) }, relative(e.waitingUntil)) : "–"),
      h("td", { class: "num" }, `v${e.version}`),
      h("td", {}, h("span", { title: when(e.enrolledAt) }, relative(e.enrolledAt)))))));
}
