// The /v1 API as the console uses it: the operator's bearer token from sessionStorage on every call,
// problem+json errors turned into ApiError, an unreachable API into ApiError with status 0.

const TOKEN_KEY = "journeys.console.token";

export class ApiError extends Error {
  constructor(status, title, detail, errors) {
    super(detail || title || `HTTP ${status}`);
    this.status = status;
    this.title = title || "";
    this.detail = detail || "";
    this.errors = errors || [];
  }
  get unreachable() {
    return this.status === 0;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  sessionStorage.setItem(TOKEN_KEY, value.trim().replace(/^Bearer\s+/i, ""));
}

export function clearToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** A link `/console#token=…` signs in once: the token moves to sessionStorage and leaves the URL. */
export function takeTokenFromFragment() {
  const hash = window.location.hash;
  if (!hash.startsWith("#")) return false;
  const params = new URLSearchParams(hash.slice(1));
  const found = params.get("token");
  if (!found) return false;
  setToken(found);
  history.replaceState(history.state, "", window.location.pathname + window.location.search);
  return true;
}

/** The token's claims (tenant, sub, exp, scope), read without verifying: for display only. */
export function claims() {
  const value = token();
  if (!value) return null;
  try {
    const part = value.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const padded = part + "=".repeat((4 - (part.length % 4)) % 4);
    return JSON.parse(atob(padded));
  } catch {
    return null;
  }
}

export async function call(method, path, body) {
  const headers = { Accept: "application/json" };
  const value = token();
  if (value) headers.Authorization = `Bearer ${value}`;
  const init = { method, headers, cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiError(0, "API unreachable", `The API did not answer (${error.message}).`);
  }
  if (response.status === 204) return null;
  let payload = null;
  const text = await response.text();
  if (text) {
    try {
      payload = JSON.parse(text);
    } catch {
      payload = null;
    }
  }
  if (!response.ok) {
    const problem = payload || {};
    if (response.status >= 502 && response.status <= 504 && !payload) {
      throw new ApiError(0, "API unreachable", `A proxy answered ${response.status}: the API is down.`);
    }
    throw new ApiError(response.status, problem.title, problem.detail, problem.errors);
  }
  return payload;
}

export const get = (path) => call("GET", path);
export const post = (path, body) => call("POST", path, body === undefined ? {} : body);

/** `/v1/...` with the parameters that have a value (encoded). */
export function url(path, params = {}) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") query.set(name, String(value));
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

export const seg = (value) => encodeURIComponent(String(value));
