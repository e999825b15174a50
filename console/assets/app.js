// The console's shell: sign-in (a pasted token, or once from the URL fragment), the router over
// /console paths, the header, and the polling every live page uses.

import { ApiError, claims, clearToken, get, setToken, takeTokenFromFragment, token } from "./api.js";
import { clear, describe, h, relative } from "./dom.js";
import { renderEnrollment } from "./enrollment.js";
import { renderEnrollments } from "./enrollments.js";
import { renderJourney } from "./journey.js";
import { renderJourneys } from "./journeys.js";
import { renderMigrations } from "./migrations.js";
import { code, errorState, state } from "./ui.js";

const main = document.getElementById("main");
const crumbsNav = document.getElementById("crumbs");
const who = document.getElementById("who");
const banner = document.getElementById("banner");

const ROUTES = [
  [/^\/console\/?$/, renderJourneys],
  [/^\/console\/journeys\/([^/]+)\/?$/, renderJourney],
  [/^\/console\/journeys\/([^/]+)\/enrollments\/?$/, renderEnrollments],
  [/^\/console\/journeys\/([^/]+)\/enrollments\/([^/]+)\/?$/, renderEnrollment],
  [/^\/console\/journeys\/([^/]+)\/migrations\/?$/, renderMigrations],
];

let leaving = [];
let generation = 0;
let signInReason = null;

function leave() {
  for (const fn of leaving) {
    try {
      fn();
    } catch {
      // a page's cleanup must not stop the next page
    }
  }
  leaving = [];
}

export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  route();
}

function setCrumbs(items) {
  clear(crumbsNav);
  const list = h("ol", {});
  items.forEach(([label, href], index) => {
    const last = index === items.length - 1;
    list.append(h("li", {}, last || !href ? h("span", { "aria-current": last ? "page" : undefined }, label)
      : h("a", { href, "data-nav": true }, label)));
  });
  crumbsNav.append(list);
}

function showBanner(text, tone = "warn") {
  if (!text) {
    banner.hidden = true;
    banner.textContent = "";
    return;
  }
  banner.className = `banner banner-${tone}`;
  banner.textContent = text;
  banner.hidden = false;
}

function renderWho() {
  clear(who);
  const found = claims();
  if (!token()) return;
  const parts = [];
  if (found?.tenant) parts.push(h("span", { class: "tenant", title: "Tenant of your token" }, found.tenant));
  if (found?.exp) {
    const expires = new Date(found.exp * 1000).toISOString();
    parts.push(h("span", { class: "muted" }, `token expires ${relative(expires)}`));
  }
  parts.push(h("button", { type: "button", class: "button small", id: "sign-out", onclick: signOut }, "Sign out"));
  who.append(...parts);
}

function signOut() {
  clearToken();
  signInReason = null;
  route();
}

/** A 401 anywhere: the token is invalid or expired; back to the sign-in form. */
function refused() {
  clearToken();
  signInReason = "expired";
  route();
}

function renderSignIn() {
  leave();
  setCrumbs([["Sign in"]]);
  renderWho();
  showBanner(null);
  clear(main);
  const input = h("textarea", {
    id: "token-input", name: "token", rows: 4, required: true, spellcheck: "false", autocomplete: "off",
    placeholder: "eyJhbGciOi…", "aria-describedby": "token-help",
  });
  const error = h("p", { class: "error", id: "sign-in-error", role: "alert", hidden: true });
  const form = h(
    "form",
    { class: "card sign-in", id: "sign-in" },
    h("h1", {}, "Sign in"),
    signInReason === "expired"
      ? h("p", { class: "notice", id: "token-expired", role: "alert" },
        "Your token was refused: it is invalid or has expired. Paste a fresh one.")
      : null,
    h("label", { for: "token-input" }, "Bearer token"),
    input,
    h("p", { id: "token-help", class: "help" },
      "Paste the token ", code("make run"), " printed (the ", code("export TOKEN=…"), " line), one from ",
      code("journeys token --tenant dev"), ", or one from your identity provider. It stays in this browser tab ",
      "only (session storage) and is sent to this API alone."),
    error,
    h("div", { class: "form-buttons" }, h("button", { type: "submit", class: "button primary", id: "sign-in-button" }, "Sign in")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = input.value.trim();
    if (!value) return;
    setToken(value);
    error.hidden = true;
    try {
      await get("/v1/journeys?limit=1");
    } catch (failure) {
      if (failure instanceof ApiError && failure.status === 401) {
        clearToken();
        error.textContent = "That token was refused: it is invalid, expired, or made for another server.";
        error.hidden = false;
        return;
      }
      if (!(failure instanceof ApiError) || failure.status !== 403) {
        clearToken();
        error.textContent = describe(failure);
        error.hidden = false;
        return;
      }
    }
    signInReason = null;
    route();
  });
  main.append(form);
  input.focus();
}

function renderNotFound() {
  setCrumbs([["Journeys", "/console"], ["Not found"]]);
  main.append(state({ tone: "warn", title: "No such page", text: "The console has no page at this address.",
    actions: [h("a", { class: "button", href: "/console", "data-nav": true }, "All journeys")] }));
}

async function route() {
  leave();
  generation += 1;
  const mine = generation;
  showBanner(null);
  if (!token()) {
    renderSignIn();
    return;
  }
  renderWho();
  setCrumbs([["Journeys", "/console"]]);
  const path = window.location.pathname;
  clear(main);
  const found = ROUTES.map(([pattern, render]) => [path.match(pattern), render]).find(([match]) => match);
  if (!found) {
    renderNotFound();
    return;
  }
  const [match, render] = found;
  const params = match.slice(1).map(decodeURIComponent);
  const ctx = {
    main,
    params,
    query: new URLSearchParams(window.location.search),
    navigate,
    crumbs: setCrumbs,
    banner: showBanner,
    current: () => mine === generation,
    onLeave: (fn) => leaving.push(fn),
    refused,
    /** Run fn every `ms` while this page is shown (not while the tab is hidden); a failure shows the banner. */
    every(ms, fn) {
      let timer = null;
      let stopped = false;
      const tick = async () => {
        if (stopped) return;
        if (!document.hidden) {
          try {
            await fn();
            if (!stopped) showBanner(null);
          } catch (failure) {
            if (stopped) return;
            if (failure instanceof ApiError && failure.status === 401) {
              refused();
              return;
            }
            showBanner(failure instanceof ApiError && failure.unreachable
              ? "Lost contact with the API: showing the last counts, retrying every few seconds."
              : `Refresh failed: ${describe(failure)}`, "warn");
          }
        }
        if (!stopped) timer = setTimeout(tick, ms);
      };
      timer = setTimeout(tick, ms);
      leaving.push(() => {
        stopped = true;
        clearTimeout(timer);
      });
    },
  };
  main.setAttribute("aria-busy", "true");
  try {
    await render(ctx);
  } catch (failure) {
    if (mine !== generation) return;
    if (failure instanceof ApiError && failure.status === 401) {
      refused();
      return;
    }
    console.error(failure);
    clear(main);
    main.append(errorState(failure instanceof ApiError ? failure : new ApiError(-1, "Console error", String(failure)),
      { retry: () => route(), what: "this address" }));
  } finally {
    main.removeAttribute("aria-busy");
  }
}

document.addEventListener("click", (event) => {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const link = event.target.closest("a[data-nav]");
  if (!link || link.target) return;
  const href = link.getAttribute("href");
  if (!href || !href.startsWith("/console")) return;
  event.preventDefault();
  navigate(href);
  main.focus({ preventScroll: true });
});

window.addEventListener("popstate", () => route());

takeTokenFromFragment();
route();
window.addEventListener("hashchange", () => {
  if (takeTokenFromFragment()) route();
});
