// Journeys: every journey of the tenant with its live version and totals, filtered by status, with the
// lifecycle buttons (each behind a confirmation).

import { get, seg, url } from "./api.js";
import { badge, clear, count, h, percent } from "./dom.js";
import { code, lifecycleButtons, state } from "./ui.js";

const STATUSES = ["", "PUBLISHED", "PAUSED", "DRAFT", "ARCHIVED"];

export async function renderJourneys(ctx) {
  ctx.crumbs([["Journeys"]]);
  let status = ctx.query.get("status") || "";
  if (!STATUSES.includes(status)) status = "";
  let page = 1;
  const select = h("select", { id: "status-filter", name: "status" },
    STATUSES.map((value) => h("option", { value, selected: value === status }, value ? value.toLowerCase() : "all")));
  const body = h("div", { id: "journeys" });
  const pager = h("div", { class: "pager" });
  ctx.main.append(
    h("div", { class: "page-head" },
      h("h1", {}, "Journeys"),
      h("span", { class: "spacer" }),
      h("label", { class: "inline", for: "status-filter" }, "Status ", select)),
    body,
    pager,
  );

  let shown = "";
  const load = async () => {
    const answer = await get(url("/v1/journeys", { status, page, limit: 50 }));
    if (!ctx.current()) return;
    // Redraw only when something changed, so a refresh does not take the keyboard focus away.
    const key = JSON.stringify([status, page, answer]);
    if (key === shown) return;
    shown = key;
    clear(body);
    clear(pager);
    if (!answer.data.length) {
      body.append(status
        ? state({ title: `No ${status.toLowerCase()} journeys`, text: "Choose another status, or all." })
        : state({ id: "state-no-journeys", title: "No journeys yet", text: [
          h("span", {}, "Create one with ", code("POST /v1/journeys"), " and publish it (the README's walkthrough shows how); it appears here with its live counts."),
        ] }));
      return;
    }
    body.append(table(answer.data, load));
    const { totalPages = 1 } = answer.meta || {};
    if (totalPages > 1) {
      pager.append(
        h("button", { type: "button", class: "button small", disabled: page <= 1, onclick: () => { page -= 1; load(); } }, "← Newer"),
        h("span", { class: "muted" }, `page ${page} of ${totalPages}`),
        h("button", { type: "button", class: "button small", disabled: page >= totalPages, onclick: () => { page += 1; load(); } }, "Older →"),
      );
    }
  };
  select.addEventListener("change", () => {
    status = select.value;
    page = 1;
    history.replaceState(null, "", status ? `/console?status=${status}` : "/console");
    load();
  });
  await load();
  ctx.every(5000, load);
}

function table(journeys, reload) {
  return h(
    "table",
    { class: "table journeys-table" },
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "Journey"),
      h("th", { scope: "col" }, "Status"),
      h("th", { scope: "col", class: "num" }, "Live version"),
      h("th", { scope: "col", class: "num" }, "Active now"),
      h("th", { scope: "col", class: "num" }, "Enrolled"),
      h("th", { scope: "col", class: "num" }, "Converted"),
      h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))),
    h("tbody", {}, journeys.map((journey) => {
      const totals = journey.totals || {};
      const rate = totals.enrolled ? totals.converted / totals.enrolled : null;
      return h("tr", { dataset: { journeyId: journey.id } },
        h("td", {}, h("a", { class: "journey-link", href: `/console/journeys/${seg(journey.id)}`, "data-nav": true }, journey.name),
          journey.triggerType ? h("span", { class: "muted small" }, ` ${journey.triggerType.toLowerCase()}`) : null),
        h("td", {}, badge(journey.status)),
        h("td", { class: "num" }, journey.version ? `v${journey.version}` : "–"),
        h("td", { class: "num big", dataset: { total: "active" } }, count(totals.active ?? 0)),
        h("td", { class: "num", dataset: { total: "enrolled" } }, count(totals.enrolled ?? 0)),
        h("td", { class: "num", dataset: { total: "converted" } }, count(totals.converted ?? 0),
          rate === null ? null : h("span", { class: "muted small" }, ` ${percent(rate)}`)),
        h("td", { class: "actions" }, lifecycleButtons(journey, () => reload())));
    })),
  );
}
