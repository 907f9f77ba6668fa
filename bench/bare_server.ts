/**
 * The benchmark's floor: bare `Deno.serve` answering every GET with a fixed
 * JSON body shaped like one `bench.items` row (whatever the path: the
 * embedding reads get this small body too), a POST to `/rpc/…` by reading
 * the request body as text and answering 200 with the body `3` (the
 * `rpc_add_them` answer), a PATCH by reading the request body and answering
 * 204, and every other request (the write scenarios' POSTs) by reading the
 * request body as text and answering 201 with no body.
 * Measures the HTTP stack and the load generator alone.
 *
 * Environment: `BENCH_HOST` (default 127.0.0.1), `BENCH_PORT` (required).
 * Stops on SIGTERM or SIGINT.
 *
 * @module
 */

const BODY =
  '[{"id":4242,"name":"item 4242","price":3417.98,"created_at":"2024-01-03T22:42:00+00:00"}]';

if (import.meta.main) {
  const port = Number(Deno.env.get("BENCH_PORT"));
  if (!Number.isInteger(port) || port <= 0) {
    throw new Error("BENCH_PORT must be a port number");
  }
  const headers = { "content-type": "application/json; charset=utf-8" };
  const server = Deno.serve(
    {
      hostname: Deno.env.get("BENCH_HOST") ?? "127.0.0.1",
      port,
      onListen: () => {},
    },
    (req) =>
      req.method === "GET"
        ? new Response(BODY, { headers })
        : new URL(req.url).pathname.startsWith("/rpc/")
        ? req.text().then(() => new Response("3", { headers }))
        : req.method === "PATCH"
        ? req.text().then(() => new Response(null, { status: 204 }))
        : req.text().then(() => new Response(null, { status: 201 })),
  );
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    Deno.addSignalListener(signal, () => void server.shutdown());
  }
  await server.finished;
}
