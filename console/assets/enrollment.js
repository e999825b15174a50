// One enrollment: its path drawn on the graph of its version, its timeline with the why of each decision,
// the link to its workflow in the Temporal UI, and the operator's actions (each behind a confirmation;
// a refusal shows the workflow's reason).

import { get, post, seg } from "./api.js";
import { badge, clear, confirm, describe, h, relative, when, whenShort } from "./dom.js";
import { drawGraph, typeLabel } from "./graph.js";
import { errorState, loadJourney } from "./ui.js";

const REFRESH_MS = 3000;

export async function renderEnrollment(ctx) {
  const [journeyId, enrollmentId] = ctx.params;
  const base = `/console/journeys/${seg(journeyId)}`;
  const apiBase = `/v1/journeys/${seg(journeyId)}/enrollments/${seg(enrollmentId)}`;
  const [journey, first] = await Promise.all([loadJourney(journeyId), get(apiBase)]);
  if (!ctx.current()) return;
  ctx.crumbs([["Journeys", "/console"], [journey.name, base], ["Enrollments", `${base}/enrollments`], [first.customerId]]);

  const head = h("div", { class: "enrollment-head" });
  const actionsBar = h("div", { class: "actions-bar", id: "actions" });
  const outcome = h("p", { class: "outcome", id: "action-outcome", role: "status", hidden: true });
  const canvas = h("div", { class: "graph-wrap", id: "path-graph" });
  const timelineBox = h("ol", { class: "timeline", id: "timeline" });
  const ORDER_KEY = "journeys.console.timelineOrder";
  let newestFirst = sessionStorage.getItem(ORDER_KEY) !== "oldest";
  const orderButton = h("button", { type: "button", class: "button small", id: "timeline-order" });
  const labelOrder = () => {
    orderButton.textContent = newestFirst ? "Newest first" : "Oldest first";
    orderButton.setAttribute("aria-label", `Order: ${orderButton.textContent}; switch`);
  };
  labelOrder();
  let lastEntries = [];
  orderButton.addEventListener("click", () => {
    newestFirst = !newestFirst;
    sessionStorage.setItem(ORDER_KEY, newestFirst ? "newest" : "oldest");
    labelOrder();
    shownTimeline = "";
    drawTimeline(lastEntries);
  });
  ctx.main.append(
    head, actionsBar, outcome,
    h("section", { class: "panel", "aria-labelledby": "path-title" }, h("h2", { id: "path-title" }, "Path"), canvas),
    h("section", { class: "panel", "aria-labelledby": "timeline-title" },
      h("div", { class: "panel-head" },
        h("h2", { id: "timeline-title" }, "Timeline ", h("span", { class: "muted small" },
          "steps, events, messages, waits and operators' actions; each branch with why it was taken")),
        orderButton),
      timelineBox),
  );

  let detail = first;
  let graph = null;
  let nodes = [];
  let shownHead = "";
  let shownGraph = "";
  let shownTimeline = "";

  const pathOf = (d) => {
    if (d.live && d.live.path && d.live.path.length) return d.live.path;
    return (d.steps || []).slice().sort((a, b) => a.startedAt.localeCompare(b.startedAt)).map((s) => s.stepId);
  };
  const currentOf = (d) => (d.status === "ACTIVE" ? (d.live?.currentStepId ?? d.currentStepId) : null);

  const drawHead = () => {
    const current = currentOf(detail);
    const waiting = detail.live?.waitingUntil ?? detail.waitingUntil;
    const key = JSON.stringify([detail.status, current, waiting, detail.converted, detail.temporalUrl, detail.live?.paused]);
    if (key === shownHead) return;
    shownHead = key;
    const nodeName = (id) => nodes.find((n) => n.id === id)?.name || id;
    clear(head).append(
      h("div", { class: "journey-title" },
        h("h1", {}, h("span", { class: "muted" }, "Customer "), h("span", { id: "customer" }, detail.customerId)),
        h("span", { id: "enrollment-status" }, badge(detail.status)),
        detail.converted ? h("span", { class: "badge badge-converted" }, "CONVERTED") : null,
        h("span", { class: "spacer" }),
        detail.temporalUrl ? h("a", { class: "button small", id: "temporal-link", href: detail.temporalUrl,
          target: "_blank", rel: "noopener noreferrer" }, "Open in Temporal UI ↗") : null),
      h("dl", { class: "facts" },
        fact("Journey", h("a", { href: base, "data-nav": true }, journey.name)),
        fact("Version", `v${detail.version}`),
        fact("At node", current ? h("span", { id: "current-node", dataset: { nodeId: current } }, nodeName(current)) : "–"),
        fact("Waiting until", waiting && current ? h("span", { title: when(waiting) }, `${when(waiting)} (${relative(waiting)})`) : "–"),
        fact("Entered", when(detail.enrolledAt)),
        detail.completedAt ? fact("Ended", when(detail.completedAt)) : null,
        detail.entryKey ? fact("Entry key", detail.entryKey) : null),
    );
    drawActions();
  };

  const drawActions = () => {
    clear(actionsBar);
    if (detail.status !== "ACTIVE") {
      actionsBar.append(h("p", { class: "muted" }, `This enrollment has ended (${detail.status}); no action applies.`));
      return;
    }
    const button = (action, label, handler, extra = "") =>
      h("button", { type: "button", class: `button${extra}`, dataset: { action }, onclick: handler }, label);
    actionsBar.append(
      h("span", { class: "muted" }, "Steer"),
      button("skipWait", "Skip wait", () => act("skipWait", "Skip the wait?",
        "The current wait ends now and the enrollment goes on (a wait for an event takes its timeout branch).")),
      button("setWait", "Set wait…", () => act("setWait", "Set the wait’s deadline", "The current wait ends at this time instead (a time already past ends it now).", "until")),
      button("moveTo", "Move to node…", () => act("moveTo", "Move to another node", "The open step is skipped and the enrollment continues from this node, as if it had arrived by an edge.", "node")),
      // The live state says whether it is paused (an older API does not: then both are offered).
      ...(detail.live?.paused === true ? [] : [
        button("pause", "Pause", () => act("pause", "Pause the enrollment?", "It holds before its next step until resumed.")),
      ]),
      ...(detail.live?.paused === false ? [] : [
        button("resume", "Resume", () => act("resume", "Resume the enrollment?", "A paused enrollment goes on with the step it was held before.")),
      ]),
      button("exit", "Exit…", () => act("exit", "Exit this customer from the journey?", "The enrollment ends EXITED now. This cannot be undone.", "reason", true), " danger-outline"),
    );
  };

  const act = async (action, title, text, input, danger = false) => {
    const body = [h("p", {}, text)];
    if (input === "until") {
      const soon = new Date(Date.now() + 3600 * 1000);
      soon.setSeconds(0, 0);
      const local = new Date(soon.getTime() - soon.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
      body.push(h("label", { for: "action-until" }, "New deadline (your local time)"),
        h("input", { type: "datetime-local", id: "action-until", name: "until", required: true, value: local }));
    }
    if (input === "node") {
      const choices = nodes.filter((n) => n.type !== "TRIGGER");
      body.push(h("label", { for: "action-node" }, "Continue from"),
        h("select", { id: "action-node", name: "nodeId", required: true },
          choices.map((n) => h("option", { value: n.id, selected: n.id === currentOf(detail) }, `${n.name || n.id} · ${typeLabel(n.type)}`))));
    }
    body.push(h("label", { for: "action-reason" }, "Reason (kept in the audit log and the timeline)"),
      h("input", { type: "text", id: "action-reason", name: "reason", maxlength: 500, autocomplete: "off",
        placeholder: "optional" }));
    const answer = await confirm({
      title, body, danger, ok: { skipWait: "Skip wait", setWait: "Set deadline", moveTo: "Move", exit: "Exit",
        pause: "Pause", resume: "Resume" }[action],
      run: async (form) => {
        const payload = { action };
        const reason = form.elements.reason?.value.trim();
        if (reason) payload.reason = reason;
        if (input === "until") payload.until = new Date(form.elements.until.value).toISOString();
        if (input === "node") payload.nodeId = form.elements.nodeId.value;
        return post(`${apiBase}/actions`, payload);
      },
    });
    if (!answer) return;
    outcome.className = "outcome ok";
    outcome.textContent = `Done: ${action}. Now ${answer.status}${answer.currentStepId ? ` at ${nodes.find((n) => n.id === answer.currentStepId)?.name || answer.currentStepId}` : ""}${answer.awaiting ? `, waiting for ${answer.awaiting}` : ""}.`;
    outcome.hidden = false;
    await refresh();
  };

  const drawPath = () => {
    if (!graph) return;
    const path = pathOf(detail);
    const current = currentOf(detail);
    const key = JSON.stringify([path, current, graph.nodes.map((n) => [n.id, n.counts])]);
    if (key === shownGraph) return;
    shownGraph = key;
    const drawing = drawGraph(graph, { path, current });
    clear(canvas).append(drawing.svg);
  };

  const drawTimeline = (entries) => {
    lastEntries = entries;
    const key = JSON.stringify(entries);
    if (key === shownTimeline) return;
    shownTimeline = key;
    clear(timelineBox);
    if (!entries.length) {
      timelineBox.append(h("li", { class: "muted" }, "Nothing recorded yet."));
      return;
    }
    const ordered = newestFirst ? entries.slice().reverse() : entries;
    for (const entry of ordered) timelineBox.append(timelineEntry(entry, nodes));
  };

  const refresh = async () => {
    const [d, t] = await Promise.all([get(apiBase), get(`${apiBase}/timeline`)]);
    if (!ctx.current()) return;
    detail = d;
    drawHead();
    drawPath();
    drawTimeline(t.data || []);
  };

  try {
    graph = await get(`/v1/journeys/${seg(journeyId)}/graph?version=${detail.version}`);
    nodes = graph.nodes || [];
  } catch (failure) {
    if (failure.status === 401) throw failure;
    nodes = [];
    canvas.append(errorState(failure, { what: "this enrollment's graph" }));
  }
  drawHead();
  drawPath();
  try {
    drawTimeline((await get(`${apiBase}/timeline`)).data || []);
  } catch (failure) {
    if (failure.status === 401) throw failure;
    timelineBox.append(h("li", { class: "error" }, describe(failure)));
  }
  ctx.every(REFRESH_MS, refresh);
}

/** Element.append, leaving out the parts that are not there (append would write "null"). */
function add(element, ...items) {
  element.append(...items.flat().filter((item) => item !== null && item !== undefined && item !== false));
}

function fact(label, value) {
  return h("div", {}, h("dt", {}, label), h("dd", {}, value));
}

const KIND_LABEL = { step: "Step", event: "Event", message: "Message", action: "Action", wait: "Wait" };

function timelineEntry(entry, nodes) {
  const nodeName = (id) => nodes.find((n) => n.id === id)?.name || id;
  const item = h("li", { class: `entry entry-${entry.kind}`, dataset: { kind: entry.kind } });
  const head = h("div", { class: "entry-head" },
    h("time", { datetime: entry.at, title: when(entry.at) }, whenShort(entry.at)),
    h("span", { class: `kind kind-${entry.kind}` }, KIND_LABEL[entry.kind] || entry.kind));
  const body = h("div", { class: "entry-body" });
  item.append(head, body);
  if (entry.kind === "step") {
    add(body, h("p", { class: "entry-title" }, h("strong", {}, entry.name || entry.nodeId), " ",
      h("span", { class: "muted" }, typeLabel(entry.type)), " ", badge(entry.status),
      entry.visit > 1 ? h("span", { class: "muted" }, ` visit ${entry.visit}`) : null,
      entry.branch ? h("span", { class: "branch" }, ` → ${entry.branch}`) : null));
    if (entry.detail) add(body, h("p", { class: "muted" }, entry.detail));
    if (entry.decision) add(body, decision(entry.decision));
  } else if (entry.kind === "event") {
    add(body, h("p", { class: "entry-title" }, h("strong", {}, entry.name || entry.type), " ",
      h("span", { class: "muted" }, entry.type), entry.entry ? h("span", { class: "badge" }, "ENTRY") : null));
  } else if (entry.kind === "message") {
    add(body, h("p", { class: "entry-title" }, h("strong", {}, `${entry.channel} message`), " ", badge(entry.status),
      entry.nodeId ? h("span", { class: "muted" }, ` from ${nodeName(entry.nodeId)}`) : null),
    entry.reason ? h("p", { class: "muted" }, `reason: ${entry.reason}`) : null,
    entry.error ? h("p", { class: "error" }, entry.error) : null);
  } else if (entry.kind === "action") {
    const ok = entry.statusCode < 300;
    add(body, h("p", { class: "entry-title" }, h("strong", {}, entry.action || `${entry.method} ${entry.path}`),
      h("span", { class: `badge ${ok ? "badge-completed" : "badge-failed"}` }, String(entry.statusCode)),
      h("span", { class: "muted" }, ` by ${entry.subject}`)),
    entry.reason ? h("p", {}, `“${entry.reason}”`) : null,
    entry.until ? h("p", { class: "muted" }, `until ${when(entry.until)}`) : null,
    entry.nodeId ? h("p", { class: "muted" }, `to ${nodeName(entry.nodeId)}`) : null);
  } else if (entry.kind === "wait") {
    add(body, h("p", { class: "entry-title" }, h("strong", {}, `Waiting for ${entry.awaiting.replace("_", " ")}`),
      h("span", { class: "muted" }, ` at ${nodeName(entry.nodeId)} until ${when(entry.waitingUntil)}`),
      entry.zone ? h("span", { class: "muted" }, ` (${entry.zone})`) : null),
    entry.endedAt ? h("p", { class: "muted" }, `ended ${when(entry.endedAt)}`) : null);
  }
  return item;
}

function value(v) {
  if (v === null || v === undefined) return "–";
  return typeof v === "string" ? `“${v}”` : JSON.stringify(v);
}

function ruleRows(rules) {
  return rules.map((r) => h("tr", { class: r.result ? "met" : "unmet" },
    h("td", {}, h("code", {}, r.field)),
    h("td", {}, r.operator),
    h("td", {}, r.valueFrom ? h("span", {}, value(r.expected), h("span", { class: "muted" }, ` from ${r.valueFrom}`)) : value(r.expected)),
    h("td", {}, r.missing ? h("span", { class: "muted" }, "missing") : value(r.actual)),
    h("td", { class: "result" }, r.result ? "✓ met" : "✗ not met")));
}

function ruleTable(rules, caption) {
  return h("table", { class: "rules" },
    caption ? h("caption", {}, caption) : null,
    h("thead", {}, h("tr", {}, ["field", "operator", "expected", "actual", "result"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, ruleRows(rules)));
}

/** Why a step went where it went. */
function decision(d) {
  const box = h("div", { class: "why" }, h("span", { class: "why-label" }, "Why"));
  if (d.rules && d.rules.length) {
    add(box, h("p", {}, `${d.combinator === "OR" ? "Any" : "All"} of these rules ${d.branch ? `→ took “${d.branch}”` : ""}`),
      ruleTable(d.rules));
  }
  if (d.branches && d.branches.length) {
    for (const b of d.branches) {
      add(box, ruleTable(b.rules || [], `branch “${b.key}” (${b.combinator === "OR" ? "any" : "all"}): ${b.matched ? "matched" : "not matched"}`));
    }
    if (d.branch) add(box, h("p", {}, `→ took “${d.branch}”`));
  }
  if (d.split) {
    add(box, h("p", {}, `Bucket ${d.split.bucket.toFixed(2)} of 100 → “${d.branch ?? "?"}” `,
      h("span", { class: "muted" }, `(${d.split.weights.map((w) => `${w.key} ${w.percentage}%`).join(", ")})`)));
  }
  if (d.goal) {
    add(box, h("p", {}, `Goal ${d.goal.goalType ?? ""}: ${d.goal.converted ? "converted" : "not converted"}`));
  }
  if (d.wait) {
    add(box, h("p", {}, `Waited for ${d.wait.awaiting} until ${when(d.wait.until)}${d.wait.zone ? ` (${d.wait.zone})` : ""}`));
  }
  if (d.truncated) add(box, h("p", { class: "muted" }, "More rules were checked than are shown."));
  if (box.childElementCount === 1) {
    if (!d.branch) return h("span", {});
    add(box, h("p", {}, `→ took “${d.branch}”`));
  }
  return box;
}
