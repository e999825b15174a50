// Pieces every page shares: the empty and error states that say what to do, the journey's header with
// its tabs, and the lifecycle buttons.

import { claims, get, post, seg } from "./api.js";
import { badge, confirm, count, h } from "./dom.js";

export function state({ title, text, actions = [], tone = "neutral", id }) {
  return h(
    "section",
    { class: `state state-${tone}`, role: tone === "error" ? "alert" : "status", id },
    h("h2", {}, title),
    [text].flat().map((line) => (line instanceof Node ? line : h("p", {}, line))),
    actions.length ? h("div", { class: "state-actions" }, actions) : null,
  );
}

export function code(text) {
  return h("code", {}, text);
}

/** The state for an error that stopped a page from loading (401 is handled by the app: sign-in). */
export function errorState(error, { retry, what = "this page" } = {}) {
  const retryButton = retry ? h("button", { class: "button primary", type: "button", onclick: retry }, "Retry") : null;
  const home = h("a", { class: "button", href: "/console", "data-nav": true }, "All journeys");
  if (error.status === 0) {
    return state({
      tone: "error",
      id: "state-unreachable",
      title: "The API is not answering",
      text: [
        h("span", {}, "The console reads everything from ", code(`${window.location.origin}/v1`),
          ", and it did not answer. Check that ", code("make run"), " (or ", code("journeys api"),
          ") is still running, then retry."),
      ],
      actions: [retryButton].filter(Boolean),
    });
  }
  if (error.status === 404) {
    const tenant = claims()?.tenant;
    return state({
      tone: "warn",
      id: "state-not-found",
      title: "Not found",
      text: [
        `Nothing at ${what} is visible to your token${tenant ? ` (tenant ${tenant})` : ""}.`,
        "It may belong to another tenant, have been deleted, or the link is mistyped.",
      ],
      actions: [home],
    });
  }
  if (error.status === 403) {
    return state({
      tone: "warn",
      id: "state-forbidden",
      title: "Your token may not see this",
      text: [error.detail || "It lacks the scope this page needs.", h("span", {}, "Mint one with the scope: ",
        code('journeys token --tenant T --scopes "journey:*:view journey:*:edit …"'))],
      actions: [home],
    });
  }
  return state({
    tone: "error",
    id: "state-error",
    title: `${error.status ? `${error.status} ` : ""}${error.title || "Something went wrong"}`,
    text: [error.detail || error.message || String(error), "The API log has the details (request id in the response)."],
    actions: [retryButton, home].filter(Boolean),
  });
}

export const LIFECYCLE = {
  publish: { label: "Publish", from: ["DRAFT", "PUBLISHED"], text: "Freeze the draft as the next version; new entries take it." },
  pause: { label: "Pause", from: ["PUBLISHED"], text: "Stop entries." },
  resume: { label: "Resume", from: ["PAUSED"], text: "Take entries again; enrollments held at a step go on." },
  archive: { label: "Archive", from: ["DRAFT", "PUBLISHED", "PAUSED"], danger: true,
    text: "No more entries, and every active enrollment exits now. The journey and its history are kept." },
};

/** Lifecycle buttons for a journey; `done(journey)` after a verb succeeded. */
export function lifecycleButtons(journey, done) {
  const buttons = [];
  for (const [verb, spec] of Object.entries(LIFECYCLE)) {
    if (!spec.from.includes(journey.status)) continue;
    if (verb === "publish" && journey.status === "PUBLISHED" && !journey.hasDraftChanges) continue;
    buttons.push(
      h("button", {
        type: "button",
        class: `button small${spec.danger ? " danger-outline" : ""}`,
        dataset: { verb },
        "aria-label": `${spec.label} ${journey.name}`,
        onclick: () => runLifecycle(journey, verb, done),
      }, spec.label),
    );
  }
  return buttons;
}

export async function runLifecycle(journey, verb, done) {
  const spec = LIFECYCLE[verb];
  const body = [h("p", {}, spec.text)];
  if (verb === "pause") {
    body.push(
      h("fieldset", { class: "choices" },
        h("legend", {}, "Pause"),
        h("label", {}, h("input", { type: "radio", name: "mode", value: "entry" }),
          " entries only — customers inside go on"),
        h("label", {}, h("input", { type: "radio", name: "mode", value: "all", checked: true }),
          " everything — customers inside hold before their next step")),
    );
  }
  if (verb === "publish" && journey.problems && journey.problems.length) {
    body.push(h("p", { class: "error" }, `The draft has ${journey.problems.length} problem(s): publish will refuse it.`));
  }
  const result = await confirm({
    title: `${spec.label} “${journey.name}”?`,
    body,
    ok: spec.label,
    danger: !!spec.danger,
    run: (form) => {
      const payload = verb === "pause" ? { mode: form.elements.mode.value } : undefined;
      return post(`/v1/journeys/${seg(journey.id)}/${verb}`, payload);
    },
  });
  if (result) done(result);
}

/** The journey's title block and tabs (graph, enrollments, migrations). */
export function journeyHeader(journey, active, { onChanged } = {}) {
  const base = `/console/journeys/${seg(journey.id)}`;
  const tab = (key, label, href) =>
    h("a", { class: `tab${key === active ? " active" : ""}`, href, "data-nav": true,
      "aria-current": key === active ? "page" : undefined }, label);
  const totals = journey.totals || {};
  return h(
    "div",
    { class: "journey-head" },
    h("div", { class: "journey-title" },
      h("h1", { id: "journey-name" }, journey.name),
      badge(journey.status),
      journey.status === "PAUSED" && journey.pauseMode ? h("span", { class: "muted" }, `(${journey.pauseMode === "all" ? "everything held" : "entries stopped"})`) : null,
      h("span", { class: "muted" }, journey.version ? `live version v${journey.version}` : "never published"),
      h("span", { class: "spacer" }),
      onChanged ? lifecycleButtons(journey, onChanged) : null),
    h("dl", { class: "totals", id: "journey-totals" },
      [["active", "active now"], ["enrolled", "enrolled"], ["completed", "completed"], ["exited", "exited"],
        ["failed", "failed"], ["converted", "converted"]].map(([key, label]) =>
        h("div", { class: `total total-${key}`, dataset: { total: key } },
          h("dt", {}, label), h("dd", {}, count(totals[key] ?? 0))))),
    h("nav", { class: "tabs", "aria-label": "Journey views" },
      tab("graph", "Graph", base), tab("enrollments", "Enrollments", `${base}/enrollments`),
      tab("migrations", "Migrations", `${base}/migrations`)),
  );
}

export function updateTotals(container, totals) {
  for (const element of container.querySelectorAll("[data-total]")) {
    element.querySelector("dd").textContent = count(totals[element.dataset.total] ?? 0);
  }
}

export async function loadJourney(id) {
  return get(`/v1/journeys/${seg(id)}`);
}
