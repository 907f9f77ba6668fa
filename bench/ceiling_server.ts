/**
 * The benchmark's ceiling: bare `Deno.serve` plus postgres.js running, per
 * request, the one prepared query that answers the scenario, with none of
 * pgrest's parsing, planning, transactions or role switching. A server that
 * does the same work cannot be much faster than this.
 *
 * Routes are keyed by scenario name (bench/scenarios.ts); a request whose
 * method and path (and, for a route that names one, exact query string) have
 * no route gets 404, an unparsable argument 400. Reads answer 200 with the
 * JSON body; writes bind the request body, unparsed, as one jsonb parameter
 * (as pgrest does) and answer 201 with no body.
 *
 * The embedding reads (`parents_children`, `parents_tags`) run the exact SQL
 * text and parameters pgrest generates for their request: at start-up the
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
 * `SET ROLE` per request), `BENCH_DB_POOL` (default 10), `BENCH_HOST`
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
  readonly method?: "GET" | "POST";
  /** The URL path it serves. */
  readonly pathname: string;
  /** The exact query string (without `?`) it serves; default: any. */
  readonly search?: string;
  /** Success status (default 200). */
  readonly status?: number;
  /** Start-up work, run once before the server listens. */
  init?(ctx: CeilingContext): Promise<void>;
  /** The response body (writes: ""), or null for "bad request". */
  handle(sql: Sql, url: URL, body: string): Promise<string> | null;
}

/** The path template of the scenario `name`. */
function scenarioPath(name: string): string {
  const scenario = SCENARIOS.find((s) => s.name === name);
  if (scenario === undefined) throw new Error(`no scenario ${name}`);
  return scenario.path;
}

/**
 * A GET route for a fixed path and query string that runs, per request, the
 * statement pgrest renders for that request (see the module comment).
 */
function pgrestReadRoute(name: string): CeilingRoute {
  const path = scenarioPath(name);
  const q = path.indexOf("?");
  const pathname = q < 0 ? path : path.slice(0, q);
  const search = q < 0 ? "" : path.slice(q + 1);
  let statement: Statement | null = null;
  return {
    pathname,
    search,
    async init(ctx) {
      const { config, cache } = await ctx.pgrest();
      const request = parseApiRequest({
        method: "GET",
        path: pathname,
        search,
        headers: new Headers(),
        body: null,
      }, config);
      const plan = planRequest(request, config, cache);
      if (plan.kind !== "read") {
        throw new Error(`${name}: pgrest planned a ${plan.kind}, not a read`);
      }
      statement = render(readStatement(plan));
    },
    handle(sql) {
      const st = statement;
      if (st === null) throw new Error(`${name}: not initialised`);
      return sql.unsafe<{ body: string }[]>(
        st.text,
        st.params as postgres.ParameterOrJSON<never>[],
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
  handle(sql, _url, body) {
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
    handle(sql, url) {
      const m = /^eq\.(-?\d{1,10})$/.exec(url.searchParams.get("id") ?? "");
      if (m === null) return null;
      return sql<{ body: string }[]>`
        select coalesce(json_agg(t), '[]')::text as body
          from (select * from bench.items where id = ${m[1]!}) t
      `.then((rows) => rows[0]!.body);
    },
  },
  parents_children: pgrestReadRoute("parents_children"),
  parents_tags: pgrestReadRoute("parents_tags"),
  rpc_add_them: {
    method: "POST",
    pathname: "/rpc/add_them",
    handle(sql, _url, body) {
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
  const sql = postgres(uri, {
    max: Number(Deno.env.get("BENCH_DB_POOL") ?? "10"),
    prepare: true,
    onnotice: () => {},
    // A string bound to a jsonb parameter is sent as it is (postgres.js
    // would JSON-encode it into a JSON string); pgrest does the same.
    types: {
      jsonbText: {
        to: 3802,
        from: [3802],
        serialize: (x: unknown) =>
          typeof x === "string" ? x : JSON.stringify(x),
        parse: (x: string) => JSON.parse(x),
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
  // `METHOD path?search` for routes with a query string, else `METHOD path`.
  const byPath = new Map(
    Object.values(CEILING_ROUTES).map((r) => [
      `${r.method ?? "GET"} ${r.pathname}${
        r.search === undefined ? "" : `?${r.search}`
      }`,
      r,
    ]),
  );
  const server = Deno.serve({
    hostname: Deno.env.get("BENCH_HOST") ?? "127.0.0.1",
    port,
    onListen: () => {},
  }, async (req) => {
    const url = new URL(req.url);
    const key = `${req.method} ${url.pathname}`;
    const route = byPath.get(`${key}${url.search}`) ?? byPath.get(key);
    if (route === undefined) return new Response("not found", { status: 404 });
    try {
      const answer = route.handle(
        sql,
        url,
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
