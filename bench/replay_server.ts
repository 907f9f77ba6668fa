/**
 * The benchmark's `replay` contender: bare `Deno.serve` plus pgrest's own
 * wire client (src/db/wire_pool.ts, src/db/wire_connection.ts) replaying,
 * per request, the transaction pgrest ran for one request of the scenario,
 * as bench/run.ts captured it from the server's statement log (the same
 * statements the pgbench script is made of, bench/pgbench.ts). No parsing,
 * planning, rendering, authentication or response shaping: what is left is
 * the HTTP server, JavaScript and the client, so its rate bounds what any
 * server written on this stack can reach with pgrest's statements. pgrest ÷
 * replay is the part of the gap that is pgrest's own work; replay ÷ pgbench
 * the part that no server on Deno + this client avoids.
 *
 * Each route is one scenario: its method and path template (`{int:LO:HI}`
 * slots, bench/scenarios.ts), its success status, whether it answers a body,
 * the captured statements with their parameters, the value drawn for each
 * slot when the capture was made and the captured request body. Per request
 * the captured statements go out exactly as pgrest sends them: one batch
 * behind one Sync (a BEGIN … COMMIT block too, in one batch), prepared
 * (`run(steps, true)`), on a connection of a {@linkcode WirePool} configured
 * with pgrest's default pool settings, connected as the authenticator
 * without a session role (the captured `set_config('role', …, true)` makes
 * the statements after it run as the request role; their Parse goes out in
 * the same pipeline after it, as in pgrest). Only the values that vary
 * change ({@linkcode paramSources}): a parameter equal to the value drawn for
 * a slot of the path takes the number at that slot's position in the actual
 * request path, and a parameter equal to the captured request body (or to
 * it wrapped in `[…]`, as pgrest binds a single JSON object) takes the
 * actual body. Settings, the headers JSON and the claims stay the captured
 * constants. The answer is the route's status with the `body` column of the
 * last statement that returned one (none for `Prefer: return=minimal`
 * routes or 204).
 *
 * When several routes share a method and path (`insert_one` and
 * `insert_bulk`: `POST /writes`), the one whose captured body has the same
 * kind (object, array, other) as the request's is taken.
 *
 * `GET /.replay/ready` answers 204 once a pooled connection ran `SELECT 1`
 * (bench/run.ts waits for it); an unknown route answers 404, a database
 * failure 500 or 503, each with a PostgREST-style JSON error.
 *
 * Environment: `BENCH_DB_URI` (required; the authenticator, as pgrest's
 * `db-uri`), `BENCH_REPLAY_FILE` (required; JSON {@linkcode ReplayFile}),
 * `BENCH_DB_POOL` (default 10), `BENCH_HOST` (default 127.0.0.1),
 * `BENCH_PORT` (required). Stops on SIGTERM or SIGINT.
 *
 * @module
 */

import { DEFAULT_CONFIG } from "../src/config/types.ts";
import { parseConnectOptions } from "../src/db/connect_options.ts";
import type { Step } from "../src/db/wire_connection.ts";
import { WirePool } from "../src/db/wire_pool.ts";
import type { CapturedStatement, DrawnSlot } from "./pgbench.ts";

/** One scenario as the replay server serves it. */
export interface ReplayRoute {
  /** The scenario's name (for messages). */
  readonly name: string;
  readonly method: string;
  /** Path and query template, `{int:LO:HI}` for a number drawn per request. */
  readonly path: string;
  /** The success status. */
  readonly status: number;
  /** Whether the answer carries the `body` column (not for return=minimal). */
  readonly answerBody: boolean;
  /** What pgrest sent for the captured request, in order. */
  readonly statements: readonly CapturedStatement[];
  /** The path's slots with the values drawn for the captured request. */
  readonly slots: readonly DrawnSlot[];
  /** The captured request's body, or null (no body). */
  readonly body: string | null;
}

/** The file bench/run.ts writes after the capture. */
export interface ReplayFile {
  readonly routes: readonly ReplayRoute[];
}

/** Where a bound parameter's value comes from. */
export type ParamSource =
  | { readonly kind: "const"; readonly value: string | null }
  | { readonly kind: "slot"; readonly index: number }
  | { readonly kind: "body"; readonly prefix: string; readonly suffix: string };

/**
 * For each statement, where each of its parameters comes from: the request
 * body (a value equal to the captured body, or to it wrapped in `[…]`), a
 * path slot (a value equal to the number drawn for it; the first such slot)
 * or the captured constant.
 */
export function paramSources(
  statements: readonly CapturedStatement[],
  slots: readonly DrawnSlot[],
  body: string | null,
): ParamSource[][] {
  return statements.map((st) =>
    st.params.map((value): ParamSource => {
      if (value !== null && body !== null) {
        if (value === body) return { kind: "body", prefix: "", suffix: "" };
        if (value === `[${body}]`) {
          return { kind: "body", prefix: "[", suffix: "]" };
        }
      }
      const index = value === null
        ? -1
        : slots.findIndex((s) => s.value === value);
      return index >= 0 ? { kind: "slot", index } : { kind: "const", value };
    })
  );
}

/** The parameters of one statement for a request. */
export function bindParams(
  sources: readonly ParamSource[],
  slotValues: readonly string[],
  body: string | null,
): (string | null)[] {
  return sources.map((s) => {
    switch (s.kind) {
      case "const":
        return s.value;
      case "slot": {
        const v = slotValues[s.index];
        if (v === undefined) throw new Error(`no value for slot ${s.index}`);
        return v;
      }
      case "body":
        if (body === null) throw new Error("the request has no body");
        return s.prefix + body + s.suffix;
    }
  });
}

const INT_SLOT = /\{int:-?\d+:-?\d+\}/g;

/**
 * A path template as a whole-string pattern: literal parts as they are, one
 * capture group of digits (optionally signed) per `{int:LO:HI}` slot.
 */
export function templatePattern(template: string): RegExp {
  const source = template.split(INT_SLOT).map((part) =>
    part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
  ).join("(-?\\d+)");
  return new RegExp(`^${source}$`);
}

/**
 * The numbers at the slots of `template` in `path` (path and query, as the
 * request line has them), in order, or null when `path` does not have the
 * template's shape.
 */
export function slotValues(template: string, path: string): string[] | null {
  const m = templatePattern(template).exec(path);
  return m === null ? null : m.slice(1);
}

/** A JSON text's kind by its first character: object, array or other. */
export function bodyKind(body: string | null): "object" | "array" | "other" {
  const c = body?.trimStart()[0];
  return c === "{" ? "object" : c === "[" ? "array" : "other";
}

/** A route ready to serve. */
export interface CompiledRoute {
  readonly route: ReplayRoute;
  readonly pattern: RegExp;
  readonly bodyKind: "object" | "array" | "other";
  /** Per statement: its step when no parameter varies, else null. */
  readonly fixed: readonly (Step | null)[];
  readonly sources: readonly ParamSource[][];
  /** The batch is a whole implicit transaction (no BEGIN). */
  readonly implicit: boolean;
}

/**
 * Prepares a route: its pattern and parameter sources.
 *
 * @throws Error when the template's slots and the drawn slots disagree or
 * the route has no statement
 */
export function compileRoute(route: ReplayRoute): CompiledRoute {
  const slotCount = route.path.match(INT_SLOT)?.length ?? 0;
  if (slotCount !== route.slots.length) {
    throw new Error(
      `${route.name}: ${slotCount} slots in ${route.path}, ${route.slots.length} drawn`,
    );
  }
  if (route.statements.length === 0) {
    throw new Error(`${route.name}: no statement`);
  }
  const sources = paramSources(route.statements, route.slots, route.body);
  return {
    route,
    pattern: templatePattern(route.path),
    bodyKind: bodyKind(route.body),
    fixed: route.statements.map((st, i) =>
      sources[i]!.every((s) => s.kind === "const")
        ? { text: st.text, params: st.params }
        : null
    ),
    sources,
    implicit: !/^\s*BEGIN\b/i.test(route.statements[0]!.text),
  };
}

/**
 * The route that serves a request among those with its method and path
 * (without the query), with the numbers at its slots; null when none has
 * the path's shape.
 */
export function pickRoute(
  candidates: readonly CompiledRoute[],
  path: string,
  body: string | null,
): { route: CompiledRoute; slots: string[] } | null {
  let fallback: { route: CompiledRoute; slots: string[] } | null = null;
  const kind = bodyKind(body);
  for (const route of candidates) {
    const m = route.pattern.exec(path);
    if (m === null) continue;
    const hit = { route, slots: m.slice(1) };
    if (route.bodyKind === kind) return hit;
    fallback ??= hit;
  }
  return fallback;
}

/** The statements of a route for one request. */
export function requestSteps(
  r: CompiledRoute,
  slots: readonly string[],
  body: string | null,
): Step[] {
  return r.route.statements.map((st, i) =>
    r.fixed[i] ?? {
      text: st.text,
      params: bindParams(r.sources[i]!, slots, body),
    }
  );
}

/**
 * Reads and checks a replay file's JSON.
 *
 * @throws Error when it has another shape
 */
export function parseReplayFile(text: string): ReplayFile {
  const v: unknown = JSON.parse(text);
  const routes = (v as { routes?: unknown } | null)?.routes;
  if (!Array.isArray(routes)) throw new Error("replay file: no routes");
  for (const r of routes as unknown[]) {
    const o = r as Record<string, unknown> | null;
    if (
      o === null || typeof o !== "object" || typeof o.name !== "string" ||
      typeof o.method !== "string" || typeof o.path !== "string" ||
      typeof o.status !== "number" || typeof o.answerBody !== "boolean" ||
      !Array.isArray(o.statements) || !Array.isArray(o.slots) ||
      !(o.body === null || typeof o.body === "string")
    ) {
      throw new Error(`replay file: a route has another shape`);
    }
  }
  return v as ReplayFile;
}

const JSON_HEADERS = { "content-type": "application/json; charset=utf-8" };

/** A PostgREST-style JSON error answer. */
function errorResponse(
  status: number,
  code: string,
  message: string,
): Response {
  return new Response(
    JSON.stringify({ code, message, details: null, hint: null }),
    { status, headers: JSON_HEADERS },
  );
}

const ROLLBACK: Step = { text: "ROLLBACK", params: [] };
const READY_PATH = "/.replay/ready";

if (import.meta.main) {
  const uri = Deno.env.get("BENCH_DB_URI");
  const file = Deno.env.get("BENCH_REPLAY_FILE");
  const port = Number(Deno.env.get("BENCH_PORT"));
  if (uri === undefined) throw new Error("BENCH_DB_URI is required");
  if (file === undefined) throw new Error("BENCH_REPLAY_FILE is required");
  if (!Number.isInteger(port) || port <= 0) {
    throw new Error("BENCH_PORT must be a port number");
  }
  const max = Number(Deno.env.get("BENCH_DB_POOL") ?? "10");
  if (!Number.isInteger(max) || max <= 0) {
    throw new Error("BENCH_DB_POOL must be a positive integer");
  }
  const { routes } = parseReplayFile(await Deno.readTextFile(file));
  // by `METHOD pathname`
  const byPath = new Map<string, CompiledRoute[]>();
  for (const r of routes) {
    const q = r.path.indexOf("?");
    const key = `${r.method} ${q < 0 ? r.path : r.path.slice(0, q)}`;
    byPath.set(key, [...byPath.get(key) ?? [], compileRoute(r)]);
  }
  const d = DEFAULT_CONFIG;
  const pool = new WirePool(
    parseConnectOptions(uri, {
      applicationName: "pgrest-replay",
      connectTimeoutSeconds: 10,
    }),
    {
      max,
      idleTimeoutMs: d.dbPoolMaxIdletime * 1000,
      maxLifetimeMs: d.dbPoolMaxLifetime * 1000,
      acquireTimeoutMs: d.dbPoolAcquisitionTimeout * 1000,
      pipelineDepth: d.dbPoolPipeline,
    },
  );

  /** Runs one batch as pgrest does; the rows per step, or throws. */
  const runBatch = async (
    steps: readonly Step[],
    implicit: boolean,
  ): Promise<Record<string, unknown>[][]> => {
    const conn = await pool.acquire(implicit);
    let healthy = true;
    try {
      const res = await conn.run(steps, true, { retryable: implicit });
      if (res.error !== null) {
        // an explicit transaction stays open, aborted, after the Sync
        if (res.txStatus !== "I") await conn.run([ROLLBACK], true);
        throw res.error;
      }
      return res.rows;
    } catch (e) {
      if (conn.dead) healthy = false;
      throw e;
    } finally {
      pool.release(conn, healthy);
    }
  };

  const server = Deno.serve({
    hostname: Deno.env.get("BENCH_HOST") ?? "127.0.0.1",
    port,
    onListen: () => {},
  }, async (req) => {
    const url = req.url;
    const path = url.slice(url.indexOf("/", url.indexOf("//") + 2));
    const q = path.indexOf("?");
    const pathname = q < 0 ? path : path.slice(0, q);
    try {
      if (req.method === "GET" && path === READY_PATH) {
        await runBatch([{ text: "SELECT 1", params: [] }], true);
        return new Response(null, { status: 204 });
      }
      const candidates = byPath.get(`${req.method} ${pathname}`);
      if (candidates === undefined) {
        return errorResponse(404, "PGRST125", `no route for ${pathname}`);
      }
      const body = req.body === null ? null : await req.text();
      const picked = pickRoute(candidates, path, body);
      if (picked === null) {
        return errorResponse(404, "PGRST125", `no route for ${path}`);
      }
      const r = picked.route;
      const rows = await runBatch(
        requestSteps(r, picked.slots, body),
        r.implicit,
      );
      const status = r.route.status;
      if (!r.route.answerBody || status === 204) {
        return new Response(null, { status });
      }
      let answer: unknown = null;
      for (let i = rows.length - 1; i >= 0 && answer === null; i--) {
        const row = rows[i]![0];
        if (row !== undefined && "body" in row) answer = row.body;
      }
      return new Response(typeof answer === "string" ? answer : "", {
        status,
        headers: JSON_HEADERS,
      });
    } catch (e) {
      const code = (e as { code?: unknown } | null)?.code;
      const message = e instanceof Error ? e.message : String(e);
      return e instanceof Error && e.name === "PostgresError"
        ? errorResponse(500, typeof code === "string" ? code : "", message)
        : errorResponse(503, "PGRST001", message);
    }
  });
  let stopping = false;
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    Deno.addSignalListener(signal, () => {
      if (stopping) return;
      stopping = true;
      void server.shutdown().finally(() => pool.close());
    });
  }
  await server.finished;
  pool.close();
}
