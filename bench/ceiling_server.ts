/**
 * The benchmark's ceiling: bare `Deno.serve` plus postgres.js running, per
 * request, the one prepared query that answers the scenario, with none of
 * pgrest's parsing, planning, transactions or role switching. A server that
 * does the same work cannot be much faster than this.
 *
 * Routes are keyed by scenario name (bench/scenarios.ts); a request whose
 * method and path have no route gets 404, an unparsable argument 400. Reads
 * answer 200 with the JSON body; writes bind the request body, unparsed, as
 * one jsonb parameter (as pgrest does) and answer 201 with no body.
 *
 * Environment: `BENCH_DB_URI` (required), `BENCH_DB_ROLE` (sent as the
 * startup parameter `role`, so that the queries run as that role without a
 * `SET ROLE` per request), `BENCH_DB_POOL` (default 10), `BENCH_HOST`
 * (default 127.0.0.1), `BENCH_PORT` (required). Stops on SIGTERM or SIGINT.
 *
 * @module
 */

import postgres from "postgres";

type Sql = ReturnType<typeof postgres>;

/** One route: answers a request or returns null for "bad request". */
interface CeilingRoute {
  /** The HTTP method it serves (default GET). */
  readonly method?: "GET" | "POST";
  /** The URL path it serves. */
  readonly pathname: string;
  /** Success status (default 200). */
  readonly status?: number;
  /** The response body (writes: ""), or null for "bad request". */
  handle(sql: Sql, url: URL, body: string): Promise<string> | null;
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
  const byPath = new Map(
    Object.values(CEILING_ROUTES).map((r) => [
      `${r.method ?? "GET"} ${r.pathname}`,
      r,
    ]),
  );
  const server = Deno.serve({
    hostname: Deno.env.get("BENCH_HOST") ?? "127.0.0.1",
    port,
    onListen: () => {},
  }, async (req) => {
    const url = new URL(req.url);
    const route = byPath.get(`${req.method} ${url.pathname}`);
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
