/**
 * Process tests for `server-unix-socket` (issue "Operations"): main.ts
 * serves HTTP on a unix socket instead of TCP. A raw HTTP/1.1 request
 * through `Deno.connect({ transport: "unix" })` and `fetch` through a
 * unix-socket `Deno.HttpClient` both get 200; the socket's mode is 660 by
 * default and `server-unix-socket-mode` changes it; the TCP port stays
 * closed; SIGTERM removes the socket file.
 *
 * Needs PGRST_TEST_DB_URI (set by `deno task test`).
 *
 * @module
 */

import assert from "node:assert/strict";
import { FIXTURE_ENV, startServer } from "../harness/server.ts";
import { json, rawRequest, request, uri } from "./util.ts";

/** A temp dir with a short path (sun_path is 108 bytes). */
async function socketDir(): Promise<string> {
  return await Deno.makeTempDir({ dir: "/tmp", prefix: "pgrest-sock-" });
}

for (const mode of [null, "600"] as const) {
  Deno.test({
    name: `unix socket: requests are served on it, mode ${
      mode ?? "660 (default)"
    }`,
    ignore: uri === undefined,
    async fn() {
      const dir = await socketDir();
      try {
        const path = `${dir}/pgrest.sock`;
        using client = Deno.createHttpClient({
          proxy: { transport: "unix", path },
        });
        await using server = await startServer({
          env: {
            ...FIXTURE_ENV,
            PGRST_SERVER_UNIX_SOCKET: path,
            ...(mode === null ? {} : { PGRST_SERVER_UNIX_SOCKET_MODE: mode }),
          },
          client,
        });

        const info = await Deno.stat(path);
        assert.ok(info.isSocket, "not a socket");
        assert.equal(
          (info.mode! & 0o777).toString(8),
          mode ?? "660",
        );

        {
          using conn = await Deno.connect({ transport: "unix", path });
          const r = await rawRequest(
            conn,
            "GET /items?id=lte.3&select=id,name HTTP/1.1\r\nHost: x\r\n" +
              "Connection: close\r\n\r\n",
          );
          assert.match(r.statusLine, /^HTTP\/1\.1 200\b/);
          assert.match(
            r.headers.get("content-type") ?? "",
            /application\/json/,
          );
          const rows = JSON.parse(r.body) as { id: number; name: string }[];
          assert.deepEqual(rows.map((x) => x.id), [1, 2, 3]);
          assert.equal(rows[0]?.name, "pencil");
        }

        const a = await request("http://localhost/items?select=id", {
          client,
        });
        assert.equal(a.status, 200, a.text);
        assert.equal(json<unknown[]>(a).length, 20);

        // not on TCP
        await assert.rejects(
          Deno.connect({ hostname: "127.0.0.1", port: server.port }),
          Deno.errors.ConnectionRefused,
        );

        // a clean exit removes the socket, so that a restart can bind it
        assert.equal((await server.stop()).code, 0, server.output());
        await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
      } finally {
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    },
  });
}
