/**
 * The benchmark's ceiling: bare `Deno.serve` plus postgres.js running, per
 * request, the one prepared query that answers the scenario, with none of
 * pgrest's parsing, planning, transactions or role switching. A server that
 * does the same work cannot be much faster than this.
 *
 * Routes are keyed by scenario name (bench/scenarios.ts); a request whose
 * method and path (and, for a route that has one, query-string pattern) have
 * no route gets 404, an unparsable argument 400. Reads answer 200 with the
 * JSON body; writes bind the request body, unparsed, as one jsonb parameter
 * (as pgrest does) and answer 201 (POST) or 204 (PATCH: one hand-written
 * `UPDATE … FROM jsonb_to_record(…) WHERE id = $2`) with no body.
 *
 * The embedding reads (`parents_children`, `parents_tags`), the filtered and
 * ordered page (`items_filtered`) and the counted page (`items_count`) run
 * the exact SQL text and parameters pgrest generates for their request
 * (values drawn per request, `{int:…}` in the path template, replace the
 * parameters they became): at start-up the
 * ceiling loads pgrest's schema cache (src/schema_cache/load.ts, over a
 * short-lived connection without the role, as pgrest does) and passes the
 * scenario's request once through pgrest's pure stages (parseApiRequest,
 * planRequest, readStatement, render); per request it only executes that
 * statement, prepared, and answers its `body` column. The SQL is thus the
 * same by construction, and the difference to pgrest is everything around it
 * (parsing, planning, rendering, the transaction and its settings).
 *
 * Environment: `BENCH_DB_URI` (required), `BENCH_DB_ROLE` (sent as the
 * startup parameter `role`, so that the queries run as that role without a
 * `SET ROLE` per request), `BENCH_DB_SOCKET` (a unix socket's path: the
 * request pool connects through it), `BENCH_DB_POOL` (default 10), `BENCH_HOST`
 * (default 127.0.0.1), `BENCH_PORT` (required). Stops on SIGTERM or SIGINT.
 *
 * @module
 */

import postgres from "postgres";
import { parseApiRequest } from "../src/api_request/api_request.ts";
import { parseConfig } from "../src/config/config.ts";
import type { Config } from "../src/config/types.ts";
import { planRequest } from "../src/plan/plan.ts";
import { readStatement } from "../src/query/read.ts";
import { render, type Statement } from "../src/query/sql.ts";
import { loadSchemaCache } from "../src/schema_cache/load.ts";
import type { SchemaCache } from "../src/schema_cache/types.ts";
import { BENCH_SCHEMA, SCENARIOS } from "./scenarios.ts";

type Sql = ReturnType<typeof postgres>;

/** What a route's start-up work may use. */
interface CeilingContext {
  /** The pool requests use (role set at connection start-up). */
  readonly sql: Sql;
  /** pgrest's configuration and schema cache, loaded on first use. */
  pgrest(): Promise<{ config: Config; cache: SchemaCache }>;
}

/** One route: answers a request or returns null for "bad request". */
interface CeilingRoute {
  /** The HTTP method it serves (default GET). */
  readonly method?: "GET" | "POST" | "PATCH";
  /** The URL path it serves. */
  readonly pathname: string;
  /**
   * The query strings (without `?`) it serves, whole; default: any. Its
   * capture groups reach `handle` as `args`.
   */
  readonly search?: RegExp;
  /** Success status (default 200). */
  readonly status?: number;
  /** Start-up work, run once before the server listens. */
  init?(ctx: CeilingContext): Promise<void>;
  /** The response body (writes: ""), or null for "bad request". */
  handle(
    sql: Sql,
    args: readonly string[],
    body: string,
  ): Promise<string> | null;
}

/** The scenario `name`. */
function scenario(name: string): (typeof SCENARIOS)[number] {
  const found = SCENARIOS.find((s) => s.name === name);
  if (found === undefined) throw new Error(`no scenario ${name}`);
  return found;
}

const INT_SLOT = /\{int:(\d+):(\d+)\}/g;

/**
 * A query-string template (`{int:LO:HI}` slots) as a whole-string pattern
 * with one capture group of digits per slot.
 */
function templatePattern(template: string): RegExp {
  const parts = template.split(INT_SLOT);
  // split with two groups: literal, lo, hi, literal, lo, hi, literal …
  let source = "";
  for (let i = 0; i < parts.length; i += 3) {
    source += (parts[i] ?? "").replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    if (i + 1 < parts.length) source += "(\\d+)";
  }
  return new RegExp(`^${source}$`);
}

/**
 * A GET route for a scenario's path template that runs, per request, the
 * statement pgrest renders for that request (see the module comment). The
 * template's `{int:…}` slots are planned once with distinct sentinel
 * values; the parameters that carry a sentinel take the request's values.
 */
function pgrestReadRoute(name: string): CeilingRoute {
  const sc = scenario(name);
  const q = sc.path.indexOf("?");
  const pathname = q < 0 ? sc.path : sc.path.slice(0, q);
  const template = q < 0 ? "" : sc.path.slice(q + 1);
  let statement: Statement | null = null;
  /** For each slot, the statement parameter indexes that take its value. */
  let slots: number[][] = [];
  return {
    pathname,
    search: templatePattern(template),
    ...(sc.status === undefined ? {} : { status: sc.status }),
    async init(ctx) {
      const { config, cache } = await ctx.pgrest();
      const sentinels: string[] = [];
      const search = template.replace(INT_SLOT, () => {
        const v = String(987_654_321 + sentinels.length);
        sentinels.push(v);
        return v;
      });
      const request = parseApiRequest({
        method: "GET",
        path: pathname,
        search,
        headers: new Headers(sc.headers ?? {}),
        body: null,
      }, config);
      const plan = planRequest(request, config, cache);
      if (plan.kind !== "read") {
        throw new Error(`${name}: pgrest planned a ${plan.kind}, not a read`);
      }
      statement = render(readStatement(plan));
      const params = statement.params;
      slots = sentinels.map((v) =>
        params.flatMap((p, i) => (p === v ? [i] : []))
      );
      if (slots.some((s) => s.length === 0)) {
        throw new Error(`${name}: a path value is not a statement parameter`);
      }
    },
    handle(sql, args) {
      const st = statement;
      if (st === null) throw new Error(`${name}: not initialised`);
      let params = st.params;
      if (slots.length > 0) {
        const copy = [...params];
        slots.forEach((indexes, k) => {
          for (const i of indexes) copy[i] = args[k];
        });
        params = copy;
      }
      return sql.unsafe<{ body: string }[]>(
        st.text,
        params as postgres.ParameterOrJSON<never>[],
        { prepare: true },
      ).then((rows) => rows[0]!.body);
    },
  };
}

/**
 * `insert_one` and `insert_bulk`: an object body is one row
 * (`jsonb_to_record`), an array many (`jsonb_to_recordset`); each scenario
 * thus runs one prepared statement.
 */
const INSERT_WRITES: CeilingRoute = {
  method: "POST",
  pathname: "/writes",
  status: 201,
  handle(sql, _args, body) {
    if (body.trimStart().startsWith("[")) {
      return sql`
        insert into bench.writes(name, price)
        select name, price
          from jsonb_to_recordset(${body}::jsonb) as t(name text, price numeric)
      `.then(() => "");
    }
    return sql`
      insert into bench.writes(name, price)
      select name, price
        from jsonb_to_record(${body}::jsonb) as t(name text, price numeric)
    `.then(() => "");
  },
};

/** Ceiling implementations of the scenarios in bench/scenarios.ts. */
export const CEILING_ROUTES: Readonly<Record<string, CeilingRoute>> = {
  items_by_id: {
    pathname: "/items",
    search: /^id=eq\.(-?\d{1,10})$/,
    handle(sql, [id]) {
      return sql<{ body: string }[]>`
        select coalesce(json_agg(t), '[]')::text as body
          from (select * from bench.items where id = ${id!}) t
      `.then((rows) => rows[0]!.body);
    },
  },
  parents_children: pgrestReadRoute("parents_children"),
  parents_tags: pgrestReadRoute("parents_tags"),
  items_filtered: pgrestReadRoute("items_filtered"),
  items_count: pgrestReadRoute("items_count"),
  rpc_add_them: {
    method: "POST",
    pathname: "/rpc/add_them",
    handle(sql, _args, body) {
      let args: unknown;
      try {
        args = JSON.parse(body);
      } catch {
        return null;
      }
      const { a, b } = (args ?? {}) as { a?: unknown; b?: unknown };
      if (!Number.isInteger(a) || !Number.isInteger(b)) return null;
      return sql<{ v: number | null }[]>`
        select bench.add_them(${a as number}, ${b as number}) as v
      `.then((rows) => JSON.stringify(rows[0]!.v));
    },
  },
  insert_one: INSERT_WRITES,
  insert_bulk: INSERT_WRITES,
  update_one: {
    method: "PATCH",
    pathname: "/patches",
    search: /^id=eq\.(-?\d{1,10})$/,
    status: 204,
    handle(sql, [id], body) {
      return sql`
        update bench.patches as t
           set price = r.price
          from jsonb_to_record(${body}::jsonb) as r(price numeric)
         where t.id = ${id!}
      `.then(() => "");
    },
  },
};

const JSON_HEADERS = { "content-type": "application/json; charset=utf-8" };

if (import.meta.main) {
  const uri = Deno.env.get("BENCH_DB_URI");
  const port = Number(Deno.env.get("BENCH_PORT"));
  if (uri === undefined) throw new Error("BENCH_DB_URI is required");
  if (!Number.isInteger(port) || port <= 0) {
    throw new Error("BENCH_PORT must be a port number");
  }
  const role = Deno.env.get("BENCH_DB_ROLE");
  const socket = Deno.env.get("BENCH_DB_SOCKET");
  const sql = postgres(uri, {
    ...(socket === undefined ? {} : { path: socket }),
    max: Number(Deno.env.get("BENCH_DB_POOL") ?? "10"),
    prepare: true,
    onnotice: () => {},
    // A string bound to a json or jsonb parameter is sent as it is
    // (postgres.js would JSON-encode it into a JSON string), and json and
    // jsonb results stay text (the body passes through without a parse):
    // pgrest does the same.
    types: {
      jsonText: {
        to: 114,
        from: [114, 3802],
        serialize: (x: unknown) =>
          typeof x === "string" ? x : JSON.stringify(x),
        parse: (x: string) => x,
      },
      jsonbText: {
        to: 3802,
        from: [],
        serialize: (x: unknown) =>
          typeof x === "string" ? x : JSON.stringify(x),
        parse: (x: string) => x,
      },
    },
    ...(role ? { connection: { role } as Record<string, string> } : {}),
  });
  let pgrest: ReturnType<CeilingContext["pgrest"]> | null = null;
  const ctx: CeilingContext = {
    sql,
    pgrest: () =>
      pgrest ??= (async () => {
        const { config } = parseConfig({
          args: [],
          env: {
            PGRST_DB_URI: uri,
            PGRST_DB_SCHEMAS: BENCH_SCHEMA,
            ...(role ? { PGRST_DB_ANON_ROLE: role } : {}),
          },
          fileText: null,
        });
        // Like pgrest: the catalog is read as the authenticator itself.
        const catalog = postgres(uri, { max: 1, onnotice: () => {} });
        try {
          const [row] = await catalog<{ v: number }[]>`
            select current_setting('server_version_num')::int as v
          `;
          const cache = await loadSchemaCache(
            (text, params) =>
              catalog.unsafe(
                text,
                params as postgres.ParameterOrJSON<never>[],
              ) as Promise<Record<string, unknown>[]>,
            config.dbSchemas,
            row!.v,
          );
          return { config, cache };
        } finally {
          await catalog.end({ timeout: 2 });
        }
      })(),
  };
  for (const route of Object.values(CEILING_ROUTES)) await route.init?.(ctx);
  // by `METHOD path`; routes with a query-string pattern first
  const byPath = new Map<string, CeilingRoute[]>();
  for (const r of Object.values(CEILING_ROUTES)) {
    const key = `${r.method ?? "GET"} ${r.pathname}`;
    const list = byPath.get(key) ?? [];
    if (!list.includes(r)) list.push(r);
    list.sort((a, b) => (a.search ? 0 : 1) - (b.search ? 0 : 1));
    byPath.set(key, list);
  }
  const server = Deno.serve({
    hostname: Deno.env.get("BENCH_HOST") ?? "127.0.0.1",
    port,
    onListen: () => {},
  }, async (req) => {
    const url = new URL(req.url);
    const search = url.search.slice(1);
    let route: CeilingRoute | undefined;
    let args: readonly string[] = [];
    for (const r of byPath.get(`${req.method} ${url.pathname}`) ?? []) {
      if (r.search === undefined) {
        route = r;
        break;
      }
      const m = r.search.exec(search);
      if (m !== null) {
        route = r;
        args = m.slice(1);
        break;
      }
    }
    if (route === undefined) return new Response("not found", { status: 404 });
    try {
      const answer = route.handle(
        sql,
        args,
        req.method === "GET" ? "" : await req.text(),
      );
      if (answer === null) {
        return new Response("bad request", { status: 400 });
      }
      const body = await answer;
      const status = route.status ?? 200;
      return body === ""
        ? new Response(null, { status })
        : new Response(body, { status, headers: JSON_HEADERS });
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      return new Response(message, { status: 500 });
    }
  });
  let stopping = false;
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    Deno.addSignalListener(signal, () => {
      if (stopping) return;
      stopping = true;
      void server.shutdown().finally(() => sql.end({ timeout: 2 }));
    });
  }
  await server.finished;
  await sql.end({ timeout: 2 });
}
