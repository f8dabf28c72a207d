// The client of caremesh's public HTTP API: bearer tokens, problem+json errors, Idempotency-Key on writes.
export const API = "/api/v1";
const TOKENS = "caremesh.tokens";

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem.code || "HTTP_ERROR";
    this.title = problem.title || "Request failed";
    this.problem = problem;
  }

  // [{field: "body.first_name" → "first_name", message}] from a 422's `errors`.
  get fieldErrors() {
    return (this.problem.errors || []).map((e) => ({
      field: (e.loc || []).filter((part) => part !== "body").join("."),
      message: e.msg,
    }));
  }
}

export const session = {
  get tokens() {
    const raw = sessionStorage.getItem(TOKENS);
    return raw ? JSON.parse(raw) : null;
  },
  set tokens(value) {
    if (value) sessionStorage.setItem(TOKENS, JSON.stringify(value));
    else sessionStorage.removeItem(TOKENS);
  },
  onExpired: () => {},
};

export function newIdempotencyKey() {
  return crypto.randomUUID();
}

// Whether a write may or may not have been done without the client hearing which: no answer at all, the gateway
// in front of the server or the payment gateway behind it did not answer (502/503/504), or the first try with
// this Idempotency-Key is still running. Retrying it with the same key cannot do it twice.
export function unanswered(error) {
  return error instanceof ApiError && ([0, 502, 503, 504].includes(error.status) || error.code === "IDEMPOTENCY_REQUEST_IN_PROGRESS");
}

// A write the user may try again (a payment, a refund, a remittance), with one Idempotency-Key per attempt: kept
// while the same request is retried after it went unanswered (a double click, a lost connection), so it is done
// once; replaced once the server has answered (done or refused), or when the request changes.
// `const pay = retryableWrite(); await pay("POST", "/payments", {body})`.
export function retryableWrite() {
  let attempt = null;
  return async (method, path, options = {}) => {
    const signature = JSON.stringify([method, path, options.body ?? null]);
    if (attempt?.signature !== signature) attempt = { signature, key: newIdempotencyKey() };
    try {
      const answer = await api(method, path, { ...options, idempotencyKey: attempt.key });
      attempt = null;
      return answer;
    } catch (error) {
      if (!unanswered(error)) attempt = null;
      throw error;
    }
  };
}

function url(path, query) {
  const target = new URL(path.startsWith("/") && !path.startsWith(API) && !path.startsWith("/fhir") ? API + path : path, location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") target.searchParams.set(name, value);
  }
  return target;
}

async function problemOf(response) {
  const type = response.headers.get("content-type") || "";
  if (type.includes("json")) {
    try {
      return await response.json();
    } catch {
      /* fall through */
    }
  }
  return { title: response.statusText || "Request failed", detail: `The server answered ${response.status}.` };
}

async function refresh() {
  const tokens = session.tokens;
  if (!tokens?.refresh_token) return false;
  const response = await fetch(url("/auth/refresh"), {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ refresh_token: tokens.refresh_token }),
  });
  if (!response.ok) return false;
  session.tokens = await response.json();
  return true;
}

// `api("POST", "/payments", {body, idempotencyKey})`; answers the parsed JSON (null for 204), or throws ApiError.
// `raw: true` answers the Response itself (a PDF, say). `ifMatch`: the version an edit expects.
export async function api(method, path, options = {}) {
  const { body, query, idempotencyKey, ifMatch, accept = "application/json", raw = false } = options;
  const send = () => {
    const headers = { Accept: accept };
    const tokens = session.tokens;
    if (tokens?.access_token) headers.Authorization = `Bearer ${tokens.access_token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
    if (ifMatch !== undefined && ifMatch !== null) headers["If-Match"] = `"${ifMatch}"`;
    return fetch(url(path, query), { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  };
  let response;
  try {
    response = await send();
    if (response.status === 401 && session.tokens && (await refresh())) response = await send();
  } catch (error) {
    throw new ApiError(0, { title: "No connection", detail: "The server could not be reached. Check the network and try again." });
  }
  if (response.status === 401 && !path.startsWith("/auth/login")) {
    session.tokens = null;
    session.onExpired();
  }
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  if (raw) return response;
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : response.text();
}

// Every item of a list endpoint ({items, next_cursor}), following cursors up to `max` items.
export async function all(path, query = {}, max = 500) {
  const items = [];
  let cursor;
  do {
    const page = await api("GET", path, { query: { ...query, limit: 100, cursor } });
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return items;
}

// What the signed-in user may do: an admin anything, anyone else what one of `roles` may.
export function may(user, roles) {
  return user.roles.includes("admin") || roles.some((role) => user.roles.includes(role));
}

export async function login(email, password) {
  session.tokens = await api("POST", "/auth/login", { body: { email, password } });
  return api("GET", "/auth/me");
}

export async function logout() {
  if (session.tokens) {
    try {
      await api("POST", "/auth/logout");
    } catch {
      /* signed out locally whatever the server says */
    }
  }
  session.tokens = null;
}
