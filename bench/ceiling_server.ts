/**
 * The benchmark's ceiling: bare `Deno.serve` plus postgres.js running, per
 * request, the one prepared query that answers the scenario, with none of
 * pgrest's parsing, planning, transactions or role switching. A server that
 * does the same work cannot be much faster than this.
 *
 * Routes are keyed by scenario name (bench/scenarios.ts); a request whose
 * path has no route gets 404, an unparsable argument 400.
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
  /** The URL path it serves. */
  readonly pathname: string;
  handle(sql: Sql, url: URL): Promise<string> | null;
}

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
    ...(role ? { connection: { role } as Record<string, string> } : {}),
  });
  const byPath = new Map(
    Object.values(CEILING_ROUTES).map((r) => [r.pathname, r]),
  );
  const server = Deno.serve({
    hostname: Deno.env.get("BENCH_HOST") ?? "127.0.0.1",
    port,
    onListen: () => {},
  }, async (req) => {
    const url = new URL(req.url);
    const route = byPath.get(url.pathname);
    if (route === undefined) return new Response("not found", { status: 404 });
    const body = route.handle(sql, url);
    if (body === null) return new Response("bad request", { status: 400 });
    try {
      return new Response(await body, { headers: JSON_HEADERS });
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
