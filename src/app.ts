/**
 * Owns the request handler: one function from `Request` to `Response` that
 * runs the stages in order — JWT gate, parse, plan, render, transaction,
 * response — times them for Server-Timing, and maps every failure to a
 * PostgREST error response in one place.
 *
 * @module
 */

import { Memo2 } from "./memo.ts";
import { parseApiRequest } from "./api_request/api_request.ts";
import type { ApiRequest } from "./api_request/types.ts";
import { signJwt } from "./auth/jwt.ts";
import { bodyParser, withParsedBody } from "./body_parser.ts";
import type { Authenticator, AuthResult } from "./auth/types.ts";
import type { Config } from "./config/types.ts";
import type { Db, Isolation, Row, TxEnd, TxRequest } from "./db/pool.ts";
import { connectionError, PgrstError, schemaCacheNotLoaded } from "./error.ts";
import type { MutatePlan } from "./plan/mutate.ts";
import type { OutputMedia } from "./plan/negotiate.ts";
import { type ActionPlan, planRequest } from "./plan/plan.ts";
import { corsHeaders } from "./response/cors.ts";
import { markSendable, sendableValues } from "./response/header_safety.ts";
import {
  capStatementTimeout,
  checkSelectSize,
  readBody,
  requestTimedOut,
  urlTooLong,
} from "./limits.ts";
import { log } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import { mutateStatement } from "./query/mutate.ts";
import { accessQuery, readAccess } from "./openapi/access.ts";
import type { OpenApiPlan } from "./openapi/plan.ts";
import { openApiResponse } from "./openapi/response.ts";
import { preRequestStatement, renderTxVars } from "./query/pre_query.ts";
import { plannedCountStatement, readStatement } from "./query/read.ts";
import { render, type Statement } from "./query/sql.ts";
import {
  type ApiResponse,
  callChecks,
  emptyResult,
  mutateResponse,
  readResponse,
  resultRow,
} from "./response/response.ts";
import type { SchemaCache } from "./schema_cache/types.ts";
import { cookieRecord, requestHeaders } from "./request_headers.ts";

/** What the handler needs; config, auth and cache are swapped on reload. */
export interface AppState {
  config: Config;
  readonly db: Db;
  auth: Authenticator;
  cache: SchemaCache | null;
  /** Seconds since the epoch. */
  readonly now: () => number;
  readonly metrics: Metrics;
  /**
   * True after a connection failure, until the database answers again (a
   * schema cache load succeeds). A busy pool (PGRST003, or a readiness
   * probe that found no free connection in time) is not a failure.
   */
  dbDown: boolean;
  /** Called when a request fails to reach the database (starts recovery). */
  onConnectionError: () => void;
}

/**
 * Whether a failure means the database could not be reached or dropped the
 * connection, the only kind that marks it down: a pool timeout means it is
 * busy.
 */
export function isConnectionFailure(e: unknown): boolean {
  if (!(e instanceof PgrstError)) return false;
  const { code } = e;
  // PGRST001: no connection; 57P01-57P03 (shutdown, crash, cannot connect
  // now) and class 08 come from PostgreSQL on a connection it then closed
  return code === "PGRST001" || code === "57P01" || code === "57P02" ||
    code === "57P03" || code.startsWith("08");
}

/** A pgrest error as the response PostgREST gives for it. */
export function errorResponse(e: PgrstError, config: Config): ApiResponse {
  const body = JSON.stringify(e.body(config.clientErrorVerbosity));
  return {
    status: e.status,
    headers: [
      ["Content-Type", "application/json; charset=utf-8"],
      ["Proxy-Status", `PostgREST; error=${e.code}`],
      ...e.headers,
    ],
    body,
  };
}

function unexpected(e: unknown): PgrstError {
  // the cause goes to the log, never to the client
  log("error", `internal error: ${e instanceof Error ? e.message : String(e)}`);
  return new PgrstError(500, "PGRSTX00", "Internal server error");
}

/** The fixed outcomes (shared). */
const COMMIT = Object.freeze({ end: "commit", override: false } as const);
const ROLLBACK = Object.freeze({ end: "rollback", override: false } as const);

/** Whether the transaction commits, and whether `Prefer: tx` was honoured. */
export function txOutcome(
  config: Config,
  pref: "commit" | "rollback" | null,
): { readonly end: "commit" | "rollback"; readonly override: boolean } {
  switch (config.dbTxEnd) {
    case "commit":
      return COMMIT;
    case "rollback":
      return ROLLBACK;
    case "commit-allow-override":
      return { end: pref ?? "commit", override: pref !== null };
    case "rollback-allow-override":
      return { end: pref ?? "rollback", override: pref !== null };
  }
}

class Timer {
  readonly marks: [string, number][] = [];
  readonly #enabled: boolean;
  #last: number;
  constructor(enabled: boolean) {
    this.#enabled = enabled;
    this.#last = enabled ? performance.now() : 0;
  }
  lap(name: string): void {
    if (!this.#enabled) return;
    const now = performance.now();
    this.marks.push([name, now - this.#last]);
    this.#last = now;
  }
  header(): string {
    return this.marks.map(([n, d]) => `${n};dur=${d.toFixed(1)}`).join(", ");
  }
}

/**
 * Settings applied to a request's transaction: the role's `ALTER ROLE … SET`
 * values that the authenticator may set (chosen when the schema cache
 * loads, pgrst.* excluded) and the called function's settings listed in
 * `db-hoisted-tx-settings`; `statement_timeout` capped at
 * `server-request-timeout`.
 */
export function requestSettings(
  config: Config,
  cache: SchemaCache | null,
  role: string,
  routine: Routineish | null,
): readonly (readonly [string, string])[] {
  if (cache === null) return settingsOf(config, cache, role, routine);
  let byRoutine = settingsMemo.get(cache);
  if (byRoutine === undefined) {
    byRoutine = new WeakMap();
    settingsMemo.set(cache, byRoutine);
  }
  const key = routine ?? NO_ROUTINE;
  let byRole = byRoutine.get(key);
  if (byRole === undefined) {
    byRole = new Map();
    byRoutine.set(key, byRole);
  }
  const hit = byRole.get(role);
  if (hit !== undefined && hit.config === config) return hit.settings;
  const settings = settingsOf(config, cache, role, routine);
  // roles come from tokens: keep the memo small whatever they name
  if (byRole.size >= 1000) byRole.clear();
  byRole.set(role, { config, settings });
  return settings;
}

/** A called function, as far as its settings go. */
type Routineish = {
  readonly settings?: readonly (readonly [string, string])[];
};

/**
 * {@linkcode requestSettings} by schema cache, called function and role:
 * they depend on nothing else but the configuration (kept to check).
 */
const settingsMemo = new WeakMap<
  SchemaCache,
  WeakMap<
    Routineish,
    Map<
      string,
      {
        readonly config: Config;
        readonly settings: readonly (readonly [string, string])[];
      }
    >
  >
>();
const NO_ROUTINE: Routineish = {};

function settingsOf(
  config: Config,
  cache: SchemaCache | null,
  role: string,
  routine: Routineish | null,
): readonly (readonly [string, string])[] {
  const out = new Map<string, string>();
  for (const [k, v] of cache?.roleSettings?.get(role) ?? []) out.set(k, v);
  for (const [k, v] of routine?.settings ?? []) {
    if (config.dbHoistedTxSettings.includes(k)) out.set(k, v);
  }
  return capStatementTimeout([...out], config.serverRequestTimeout);
}

/**
 * The isolation level the request's transaction starts at: the last
 * `default_transaction_isolation` among the role's settings and the called
 * function's hoisted ones, as PostgREST starts its transaction at that
 * level (a `set_config` inside the transaction would come too late).
 */
export function isolationOf(
  settings: readonly (readonly [string, string])[],
): Isolation | undefined {
  // settings lists are remembered per role and function (requestSettings)
  if (isolations.has(settings)) return isolations.get(settings);
  const out = isolationIn(settings);
  isolations.set(settings, out);
  return out;
}

const isolations = new WeakMap<
  readonly (readonly [string, string])[],
  Isolation | undefined
>();

function isolationIn(
  settings: readonly (readonly [string, string])[],
): Isolation | undefined {
  let level: string | undefined;
  for (const [k, v] of settings) {
    if (k === "default_transaction_isolation") level = v.trim().toLowerCase();
  }
  return level === "repeatable read" || level === "serializable"
    ? level
    : undefined;
}

/**
 * A transaction end decided from the results: `verify` throwing a
 * `PgrstError` (a singular response that is not one row, too many rows for
 * a strict max-affected) rolls the transaction back and leaves the error in
 * `check` for the caller to answer with; otherwise it ends with `end`.
 */
function endAfter(
  end: "commit" | "rollback",
  check: { failure: PgrstError | null },
  verify: (rows: readonly (readonly Row[])[]) => void,
): TxEnd {
  return (rows) => {
    try {
      verify(rows);
    } catch (e) {
      if (e instanceof PgrstError) {
        check.failure = e;
        return "rollback";
      }
      throw e;
    }
    return end;
  };
}

/** A transaction request being made (its optional fields set after). */
type TxBuilding = { -readonly [K in keyof TxRequest]: TxRequest[K] };

/**
 * `tx` with its isolation and abort signal when there are (set on the
 * object rather than spread into a copy).
 */
function txWith(
  tx: TxBuilding,
  isolation: Isolation | undefined,
  signal: (() => AbortSignal) | undefined,
): TxRequest {
  if (isolation !== undefined) tx.isolation = isolation;
  if (signal !== undefined) tx.signal = signal;
  return tx;
}

/** What the statements need of the HTTP request, and its abort signal. */
interface RawRequest {
  readonly path: string;
  readonly headers: Headers;
  /**
   * The request's abort signal (aborted when the client goes away: cancels
   * the running statement), asked for only by requests still running after
   * a while: Deno makes a signal, and aborts it with a DOMException after
   * the answer, only for requests whose signal was read (3–5% of CPU).
   */
  readonly signal?: () => AbortSignal;
}

/**
 * The request's search path: its schema, then `db-extra-search-path`; one
 * array per configuration and schema, so that its rendered text is made
 * once (pre_query.ts).
 */
const searchPaths = new Memo2<Config, string, readonly string[]>(
  (config, schema) => Object.freeze([schema, ...config.dbExtraSearchPath]),
  () => new Map(),
);
function searchPathOf(config: Config, schema: string): readonly string[] {
  return searchPaths.get(config, schema);
}

/** An anonymous request's claims, `{ role }`: one object per role in a row. */
let anonMemo: Readonly<Record<string, unknown>> = Object.freeze({ role: "" });
function anonClaims(role: string): Readonly<Record<string, unknown>> {
  if (anonMemo["role"] !== role) anonMemo = Object.freeze({ role });
  return anonMemo;
}

function preludeStatements(
  config: Config,
  req: ApiRequest,
  auth: AuthResult,
  raw: RawRequest,
  readOnly: boolean,
  settings: readonly (readonly [string, string])[] = [],
): Statement[] {
  const claims = auth.authenticated ? auth.claims : anonClaims(auth.role);
  const seen = requestHeaders(raw.headers);
  const statements: Statement[] = [
    renderTxVars({
      searchPath: searchPathOf(config, req.schema),
      role: auth.role,
      claims,
      method: req.method,
      path: raw.path,
      headers: seen.record,
      cookies: cookieRecord(seen.cookie),
      timezone: req.prefs.timezone,
      appSettings: config.appSettings,
      settings,
      readOnly,
    }),
  ];
  if (config.dbPreRequest !== null) {
    statements.push(preRequestRendered(config.dbPreRequest));
  }
  return statements;
}

/** The rendered db-pre-request call, rebuilt only when the setting changes. */
let preRequestMemo: { readonly fn: string; readonly stmt: Statement } | null =
  null;
function preRequestRendered(fn: string): Statement {
  if (preRequestMemo?.fn !== fn) {
    preRequestMemo = { fn, stmt: render(preRequestStatement(fn)) };
  }
  return preRequestMemo.stmt;
}

/**
 * Whether the main statement's result decides the transaction's end: a
 * singular response that is not one row, or more rows than a strict
 * max-affected allows, rolls back. Otherwise the end is fixed and the
 * transaction needs no second round trip.
 */
function resultMayRollBack(
  req: ApiRequest,
  media: { readonly kind: string },
  shape: string | undefined,
): boolean {
  if (media.kind === "singular" && shape === "set") return true;
  return req.prefs.handling === "strict" && req.prefs.maxAffected !== null;
}

async function execute(
  state: AppState,
  req: ApiRequest,
  plan: ActionPlan,
  auth: AuthResult,
  raw: RawRequest,
  timer: Timer,
): Promise<ApiResponse> {
  if (plan.kind === "mutate") {
    return await executeMutation(state, req, plan, auth, raw, timer);
  }
  if (plan.kind === "info") {
    // OPTIONS needs no database connection
    return { status: 200, headers: [["Allow", plan.allow]], body: "" };
  }
  if (plan.kind === "openapi") {
    return await executeOpenApi(state, req, plan, auth, raw, timer);
  }
  const { config } = state;
  const { end, override } = txOutcome(config, req.prefs.tx);
  const readOnly = req.method === "GET" || req.method === "HEAD" ||
    (plan.call !== null && plan.call.routine.volatility !== "v");
  const settings = requestSettings(
    config,
    state.cache,
    auth.role,
    plan.call?.routine ?? null,
  );
  const isolation = isolationOf(settings);
  const statements = preludeStatements(
    config,
    req,
    auth,
    raw,
    readOnly,
    settings,
  );
  const mainIndex = statements.length;
  statements.push(render(readStatement(plan)));
  logQuery(config, statements[mainIndex]);
  if (plan.media.explain !== undefined) {
    return await explain(state, req, plan.media, statements, auth, end, {
      readOnly,
    });
  }
  // PostgREST asks the planner only for tables and views: a function's
  // count=estimated is its exact count, count=planned none
  const planned = plan.call === null &&
    (plan.count === "planned" || plan.count === "estimated");
  if (planned) statements.push(render(plannedCountStatement(plan)));
  timer.lap("plan");
  // a function call whose result fails a check (singular response,
  // max-affected) is rolled back
  const check: { failure: PgrstError | null } = { failure: null };
  const results: (readonly Row[])[] = await state.db.transaction(txWith(
    {
      readOnly,
      readOnlySet: true,
      statements,
      end: plan.call === null ||
          !resultMayRollBack(req, plan.media, plan.call.shape)
        ? end
        : endAfter(
          end,
          check,
          (rows) => callChecks(req, plan, resultRow(rows[mainIndex]?.[0])),
        ),
      authenticated: auth.authenticated && auth.role !== config.dbAnonRole,
    },
    isolation,
    raw.signal,
  ));
  if (check.failure !== null) throw check.failure;
  timer.lap("transaction");
  let row = resultRow(results[mainIndex]?.[0]);
  if (planned) {
    const estimate = plannedRows(results[mainIndex + 1]);
    const maxRows = config.dbMaxRows;
    if (plan.count === "planned") {
      row = { ...row, tableTotal: estimate };
    } else if (
      row.tableTotal !== null && (maxRows === null || row.tableTotal > maxRows)
    ) {
      // estimated: the exact count up to db-max-rows, above it (or without
      // db-max-rows, as PostgREST) the planner's guess when that is larger
      row = { ...row, tableTotal: Math.max(row.tableTotal, estimate ?? 0) };
    }
  }
  if (plan.call?.signJwt === true) {
    const claims: unknown = JSON.parse(row.body === "" ? "null" : row.body);
    if (
      typeof claims === "object" && claims !== null && !Array.isArray(claims)
    ) {
      const token = await signJwt(claims as Record<string, unknown>, config);
      row = { ...row, body: JSON.stringify({ token }) };
    }
  }
  return readResponse(req, plan, row, { txOverride: override });
}

async function executeMutation(
  state: AppState,
  req: ApiRequest,
  plan: MutatePlan,
  auth: AuthResult,
  raw: RawRequest,
  timer: Timer,
): Promise<ApiResponse> {
  const { config } = state;
  const { end, override } = txOutcome(config, req.prefs.tx);
  if (plan.noop) {
    return mutateResponse(req, plan, emptyResult(), { txOverride: override });
  }
  const settings = requestSettings(config, state.cache, auth.role, null);
  const isolation = isolationOf(settings);
  const statements = preludeStatements(
    config,
    req,
    auth,
    raw,
    false,
    settings,
  );
  const mainIndex = statements.length;
  statements.push(render(mutateStatement(plan)));
  logQuery(config, statements[mainIndex]);
  if (plan.media.explain !== undefined) {
    return await explain(state, req, plan.media, statements, auth, end, {
      readOnly: false,
    });
  }
  timer.lap("plan");
  // a failed check (singular response, max-affected) rolls the write back
  const check: { failure: PgrstError | null } = { failure: null };
  const results = await state.db.transaction(txWith(
    {
      readOnly: false,
      statements,
      end: !resultMayRollBack(req, plan.media, "set")
        ? end
        : endAfter(end, check, (rows) => {
          mutateResponse(req, plan, resultRow(rows[mainIndex]?.[0]), {
            txOverride: override,
          });
        }),
      authenticated: auth.authenticated && auth.role !== config.dbAnonRole,
    },
    isolation,
    raw.signal,
  ));
  if (check.failure !== null) throw check.failure;
  timer.lap("transaction");
  const row = resultRow(results[mainIndex]?.[0]);
  return mutateResponse(req, plan, row, { txOverride: override });
}

/**
 * `GET /`: reads the schema comment (and, following privileges, what the
 * role may use) in the request's transaction, then builds the document.
 */
async function executeOpenApi(
  state: AppState,
  req: ApiRequest,
  plan: OpenApiPlan,
  auth: AuthResult,
  raw: RawRequest,
  timer: Timer,
): Promise<ApiResponse> {
  const { config } = state;
  const cache = state.cache;
  if (cache === null) throw schemaCacheNotLoaded();
  const statements = preludeStatements(config, req, auth, raw, true);
  const mainIndex = statements.length;
  statements.push(render(accessQuery(plan.schema, plan.followPrivileges)));
  timer.lap("plan");
  const results = await state.db.transaction({
    readOnly: true,
    readOnlySet: true,
    statements,
    end: txOutcome(config, req.prefs.tx).end,
    authenticated: auth.authenticated && auth.role !== config.dbAnonRole,
  });
  timer.lap("transaction");
  const access = readAccess(results[mainIndex]?.[0]);
  return openApiResponse(req, plan, { config, cache, access });
}

function plannedRows(rows: readonly Row[] | undefined): number | null {
  const plan = rows?.[0]?.["QUERY PLAN"];
  const parsed: unknown = typeof plan === "string" ? JSON.parse(plan) : plan;
  if (!Array.isArray(parsed)) return null;
  const first: unknown = parsed[0];
  if (typeof first !== "object" || first === null) return null;
  const p = (first as Record<string, unknown>)["Plan"];
  if (typeof p !== "object" || p === null) return null;
  const n = (p as Record<string, unknown>)["Plan Rows"];
  return typeof n === "number" ? n : null;
}

/**
 * The `Response`: `headers` (the CORS and trace headers, a list of the
 * caller's that this fills), then the response's own headers, Vary and
 * Server-Timing.
 */
function toResponse(
  r: ApiResponse,
  timer: Timer | null,
  headers: [string, string][],
  head = false,
): Response {
  let vary = false;
  const own = r.headers;
  for (let i = 0; i < own.length; i++) {
    const h = own[i] as [string, string];
    headers.push(h);
    if (!vary && h[0].length === 4 && h[0].toLowerCase() === "vary") {
      vary = true;
    }
  }
  if (!vary) headers.push(VARY);
  if (timer !== null) headers.push(["Server-Timing", timer.header()]);
  // 204, 205 and 304 carry no body (a body there stalls the connection)
  const nullBody = r.status === 204 || r.status === 205 || r.status === 304;
  const body = nullBody ? null : r.body;
  if (head && body === null && r.status >= 200 && !nullBody) {
    // HEAD carries no Content-Length, as in PostgREST: an empty stream keeps
    // Deno from adding "content-length: 0"
    return new Response(new ReadableStream({ start: (c) => c.close() }), {
      status: r.status,
      headers,
    });
  }
  // a string body is encoded once, by Deno, with a Content-Length
  const res = new Response(body, { status: r.status });
  fillHeaders(res.headers, headers);
  // checked here, on the list, the server need not iterate the Headers
  return sendableValues(headers) ? markSendable(res) : res;
}

/** The Vary header of responses that set none (shared, never changed). */
const VARY = Object.freeze(["Vary", "Accept, Prefer, Range"]) as unknown as [
  string,
  string,
];

/**
 * Appends a header list to a new response's headers, as `new Response`'s
 * `headers` would (same checks, duplicates kept), but about twice as fast:
 * the init converts the list as WebIDL sequences, an iterator and a copy
 * per header. The first Content-Type replaces the `text/plain` that Deno
 * gives a string body (a list in the init would have kept it out).
 */
export function fillHeaders(
  target: Headers,
  list: readonly (readonly [string, string])[],
): void {
  let typed = false;
  for (let i = 0; i < list.length; i++) {
    // by index: destructuring would go through the iterator protocol
    const h = list[i] as readonly [string, string];
    const k = h[0];
    const v = h[1];
    if (!typed && k.length === 12 && k.toLowerCase() === "content-type") {
      target.set(k, v);
      typed = true;
    } else {
      target.append(k, v);
    }
  }
}

/** Path and query string of a request URL, without building a `URL`. */
export function splitUrl(url: string): { path: string; search: string } {
  const scheme = url.indexOf("://");
  const slash = url.indexOf("/", scheme < 0 ? 0 : scheme + 3);
  if (slash < 0) return { path: "/", search: "" };
  const hash = url.indexOf("#", slash);
  const end = hash < 0 ? url.length : hash;
  const q = url.indexOf("?", slash);
  if (q < 0 || q > end) return { path: url.slice(slash, end), search: "" };
  return { path: url.slice(slash, q), search: url.slice(q + 1, end) };
}

/**
 * Answers `application/vnd.pgrst.plan`: the EXPLAIN of the request's main
 * statement (the last of `statements`), with the options asked for.
 */
async function explain(
  state: AppState,
  req: ApiRequest,
  media: OutputMedia,
  statements: Statement[],
  auth: AuthResult,
  end: "commit" | "rollback",
  opts: { readOnly: boolean },
): Promise<ApiResponse> {
  const ex = media.explain;
  const main = statements[statements.length - 1];
  if (ex === undefined || main === undefined) throw new Error("no statement");
  const flags = [
    ex.format === "json" ? "FORMAT JSON" : "FORMAT TEXT",
    ...ex.options.map((o) => o.toUpperCase()),
  ].join(", ");
  statements[statements.length - 1] = {
    text: `EXPLAIN (${flags}) ${main.text}`,
    params: main.params,
  };
  const results = await state.db.transaction({
    readOnly: opts.readOnly,
    readOnlySet: true,
    statements,
    end,
    authenticated: auth.authenticated && auth.role !== state.config.dbAnonRole,
  });
  const rows = results[statements.length - 1] ?? [];
  const planValue = rows[0]?.["QUERY PLAN"];
  const body = ex.format === "json"
    ? (typeof planValue === "string"
      ? planValue
      : JSON.stringify(planValue ?? null))
    : rows.map((r) => String(r["QUERY PLAN"] ?? "")).join("\n");
  void req;
  return { status: 200, headers: [["Content-Type", media.contentType]], body };
}

/** `log-query = main-query`: the statement's text, never its parameters. */
function logQuery(config: Config, st: Statement | undefined): void {
  if (config.logQuery === "main-query" && st !== undefined) {
    log("info", st.text, config.logLevel, true);
  }
}

/**
 * One access-log line, as PostgREST logs: `error` logs 5xx responses,
 * `warn` 4xx and 5xx, `info` and `debug` every request. Never the
 * Authorization header or a body. Written once per request, with the
 * status sent, by the outer handler (`server.ts`), which also counts it.
 */
export function accessLog(
  config: Config,
  request: Request,
  info: { remoteAddr: Deno.Addr } | undefined,
  status: number,
): void {
  const level = config.logLevel;
  if (level === "crit") return;
  if (level === "error" && status < 500) return;
  if (level === "warn" && status < 400) return;
  const addr = info?.remoteAddr;
  const who = addr !== undefined && "hostname" in addr ? addr.hostname : "-";
  const { path, search } = splitUrl(request.url);
  const target = search === "" ? path : `${path}?${search}`;
  const ua = request.headers.get("user-agent") ?? "";
  log(
    status >= 500 ? "error" : status >= 400 ? "warn" : "info",
    `${who} - - "${request.method} ${target} HTTP/1.1" ${status} "${ua}"`,
    level,
  );
}

/**
 * The headers every response to `request` starts with: CORS, and the
 * `server-trace-header` with the request's value echoed.
 */
function baseHeaders(config: Config, request: Request): [string, string][] {
  const out = corsHeaders(
    request.method,
    requestHeaders(request.headers),
    config.serverCorsAllowedOrigins,
  );
  const name = config.serverTraceHeader;
  if (name === null) return out;
  const value = request.headers.get(name);
  if (value !== null) out.push([name, value]);
  return out;
}

/**
 * Builds the application's handler. It neither counts nor logs the
 * request: the limits around it (`server.ts`) may still replace the
 * response (request timeout, unsendable header), so they do both, once.
 */
export function makeHandler(
  state: AppState,
): (
  request: Request,
  info?: { remoteAddr: Deno.Addr },
) => Promise<Response> {
  return async function handle(request: Request): Promise<Response> {
    const { config } = state;
    const started = performance.now();
    const timer = new Timer(config.serverTimingEnabled);
    try {
      const headers = requestHeaders(request.headers);
      const authorization = headers.get("authorization");
      // without a header, no token to verify: no promise to wait for
      const auth = authorization === null && state.auth.anonymous !== undefined
        ? state.auth.anonymous()
        : await state.auth.authenticate(authorization, state.now());
      timer.lap("jwt");
      const { path, search } = splitUrl(request.url);
      if (path.length + search.length > config.serverMaxUrlLength) {
        throw urlTooLong(config.serverMaxUrlLength);
      }
      const hasBody = request.method !== "GET" && request.method !== "HEAD";
      const body = hasBody
        ? await readBody(request, config.serverMaxBodyBytes)
        : null;
      const parsed = parseApiRequest({
        method: request.method,
        path,
        search,
        headers,
        body,
      }, config);
      // without a body there is nothing to parse (and no promise to wait for)
      const req = body === null
        ? parsed
        : await withParsedBody(bodyParser, parsed);
      checkSelectSize(req.params.select, config);
      timer.lap("parse");
      const cache = state.cache;
      if (cache === null) throw schemaCacheNotLoaded();
      const plan = planRequest(req, config, cache, auth.role);
      const res = await execute(
        state,
        req,
        plan,
        auth,
        { path, headers: request.headers, signal: () => request.signal },
        timer,
      );
      timer.lap("response");
      return toResponse(
        res,
        config.serverTimingEnabled ? timer : null,
        baseHeaders(config, request),
        request.method === "HEAD",
      );
    } catch (e) {
      let err = e instanceof PgrstError ? e : unexpected(e);
      // no connection in time while the database is down: that is an
      // outage (503, Retry-After), not a busy pool
      if (err.code === "PGRST003" && state.dbDown) err = connectionError(null);
      if (err.code === "PGRST001") state.onConnectionError();
      // the statement_timeout capped at server-request-timeout (57014) can
      // come before the request's own timer: after the deadline, that is
      // the request timing out
      const limit = config.serverRequestTimeout;
      if (
        err.code === "57014" && limit > 0 &&
        performance.now() - started >= limit * 1000
      ) {
        err = requestTimedOut(limit);
      }
      const res = errorResponse(err, config);
      return toResponse(
        request.method === "HEAD" ? { ...res, body: null } : res,
        config.serverTimingEnabled ? timer : null,
        baseHeaders(config, request),
      );
    }
  };
}
