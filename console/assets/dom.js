// Small DOM helpers: elements are built with textContent only (no HTML strings, so no injection),
// numbers and times formatted for operators, and the one confirmation dialog.

const SVG_NS = "http://www.w3.org/2000/svg";

function fill(element, attrs, children) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      for (const [key, data] of Object.entries(value)) element.dataset[key] = String(data);
    } else if (value === true) {
      element.setAttribute(name, "");
    } else {
      element.setAttribute(name, String(value));
    }
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** h("a", {href, class}, "text", child…) */
export function h(tag, attrs, ...children) {
  return fill(document.createElement(tag), attrs, children);
}

/** s("rect", {x, y}) — an SVG element. */
export function s(tag, attrs, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

const integer = new Intl.NumberFormat("en-US");
const compact = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });

export function count(value) {
  if (value === undefined || value === null) return "–";
  return value >= 10000 ? compact.format(value) : integer.format(value);
}

export function percent(share) {
  if (share === undefined || share === null) return "";
  const value = share * 100;
  if (value > 0 && value < 1) return "<1%";
  return `${Math.round(value)}%`;
}

const dateTime = new Intl.DateTimeFormat(undefined, {
  year: "numeric",
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});

export function when(iso) {
  if (!iso) return "–";
  return dateTime.format(new Date(iso));
}

const shortDateTime = new Intl.DateTimeFormat(undefined, {
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});

/** Without the year: for lists of recent moments. */
export function whenShort(iso) {
  if (!iso) return "–";
  return shortDateTime.format(new Date(iso));
}

export function relative(iso, now = Date.now()) {
  if (!iso) return "";
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  const abs = Math.abs(seconds);
  const units = [
    ["day", 86400],
    ["hour", 3600],
    ["minute", 60],
    ["second", 1],
  ];
  for (const [unit, size] of units) {
    if (abs >= size || unit === "second") {
      const value = Math.round(seconds / size);
      return new Intl.RelativeTimeFormat("en", { numeric: "auto" }).format(value, unit);
    }
  }
  return "";
}

export function badge(status) {
  const text = String(status || "").toUpperCase();
  return h("span", { class: `badge badge-${text.toLowerCase()}` }, text);
}

/** Shorten to `max` characters with an ellipsis (SVG text does not wrap or clip by itself). */
export function clip(text, max) {
  const value = String(text ?? "");
  return value.length <= max ? value : `${value.slice(0, Math.max(1, max - 1))}…`;
}

export function clear(element) {
  while (element.firstChild) element.firstChild.remove();
  return element;
}

/**
 * The confirmation dialog: `confirm({title, body, ok, danger, run})` shows it; `run(form)` does the work
 * and may throw an ApiError, whose detail is shown in the dialog (e.g. a 409's reason); the dialog closes
 * when run succeeds. Resolves with run's result, or null when cancelled.
 */
export function confirm({ title, body, ok = "Confirm", danger = false, run }) {
  const dialog = document.getElementById("confirm");
  const form = document.getElementById("confirm-form");
  const okButton = document.getElementById("confirm-ok");
  const cancel = document.getElementById("confirm-cancel");
  const error = document.getElementById("confirm-error");
  document.getElementById("confirm-title").textContent = title;
  clear(document.getElementById("confirm-body")).append(...[body].flat().filter(Boolean));
  okButton.textContent = ok;
  okButton.className = `button ${danger ? "danger" : "primary"}`;
  okButton.disabled = false;
  error.hidden = true;
  return new Promise((resolve) => {
    let busy = false;
    const finish = (value) => {
      form.removeEventListener("submit", onSubmit);
      cancel.removeEventListener("click", onCancel);
      dialog.removeEventListener("cancel", onEscape);
      if (dialog.open) dialog.close();
      resolve(value);
    };
    const onCancel = () => !busy && finish(null);
    const onEscape = (event) => {
      event.preventDefault();
      onCancel();
    };
    const onSubmit = async (event) => {
      event.preventDefault();
      if (busy) return;
      busy = true;
      okButton.disabled = true;
      error.hidden = true;
      try {
        const result = await run(form);
        busy = false;
        finish(result === undefined ? true : result);
      } catch (failure) {
        busy = false;
        okButton.disabled = false;
        error.textContent = describe(failure);
        error.hidden = false;
      }
    };
    form.addEventListener("submit", onSubmit);
    cancel.addEventListener("click", onCancel);
    dialog.addEventListener("cancel", onEscape);
    dialog.showModal();
    const first = dialog.querySelector("#confirm-body input, #confirm-body select, #confirm-body textarea");
    (first || okButton).focus();
  });
}

/** An error as one sentence for the operator. */
export function describe(failure) {
  if (!failure) return "";
  if (failure.status === 0) return "The API did not answer: check that the server is running.";
  if (failure.status === 409) return `Refused: ${failure.detail || failure.title}`;
  if (failure.status === 422 && failure.errors && failure.errors.length) {
    return failure.errors.map((e) => `${(e.loc || []).slice(-1)[0] ?? ""}: ${e.msg}`).join("; ");
  }
  if (failure.status === 403) return `Not allowed: ${failure.detail || "your token lacks the scope"}`;
  if (failure.status) return `${failure.status} ${failure.title}: ${failure.detail}`.trim();
  return String(failure.message || failure);
}
