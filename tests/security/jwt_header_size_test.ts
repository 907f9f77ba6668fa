/**
 * Oversized tokens over real HTTP: `main.ts` runs as a child process
 * (tests/harness/server.ts) on the `jwt_sec` fixture
 * (tests/fixtures/security_jwt.sql), so Deno's HTTP/1.1 parser is part of
 * the test, which the in-process suite (jwt_attack_test.ts) cannot cover.
 *
 * Three sizes of `Authorization` header, each with a forged token:
 *
 * - 64 KiB: Deno's server refuses a request head of 64 KiB or more before
 *   any handler runs: 400 with an empty body and `Connection: close`
 *   (measured with Deno 2.9.6: a 65,397-byte header value passes, 65,536
 *   does not). PostgREST's server, warp, does the same above 50 KiB of
 *   headers (400, plain-text "Bad Request").
 * - between `server-max-header-bytes` (default 32 KiB) and 64 KiB: 431
 *   PGRST153, before the JWT gate;
 * - just under that limit: the JWT gate, 401 PGRST301.
 *
 * None reaches the database: the probe's counters (sequences of this test's
 * own, `size_*`, read as the superuser) do not move, and the server keeps
 * serving.
 *
 * Needs PGRST_TEST_DB_URI (set by `deno task test`).
 *
 * @module
 */

import assert from "node:assert/strict";
import postgres from "postgres";
import { DEFAULT_CONFIG } from "../../src/config/types.ts";
import { startServer } from "../harness/server.ts";

const uri = Deno.env.get("PGRST_TEST_DB_URI");
const SECRET = "reallyreallyreallyreallyverysafe";

function superUri(): string {
  const given = Deno.env.get("PGRST_TEST_DB_SUPER_URI");
  if (given !== undefined) return given;
  const u = new URL(uri ?? "");
  u.username = "postgres";
  u.password = "";
  return u.toString();
}

async function runs(sql: postgres.Sql): Promise<string> {
  const [row] = await sql<{ runs: string }[]>`
    select concat_ws('/',
      coalesce(pg_sequence_last_value('jwt_sec.size_main_query_runs'), 0),
      coalesce(pg_sequence_last_value('jwt_sec.size_pre_request_runs'), 0))
      as runs`;
  assert.ok(row !== undefined);
  return row.runs;
}

function b64url(text: string): string {
  return btoa(text).replaceAll("+", "-").replaceAll("/", "_").replace(
    /=+$/,
    "",
  );
}

/** A token of `bytes` bytes whose signature does not verify. */
function forgedToken(bytes: number): string {
  const header = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const signature = "A".repeat(43);
  const room = bytes - header.length - signature.length - 2;
  const claims = { role: "web_user", pad: "" };
  const skeleton = JSON.stringify(claims).length;
  claims.pad = "x".repeat(Math.floor(room / 4) * 3 - skeleton);
  return `${header}.${b64url(JSON.stringify(claims))}.${signature}`;
}

Deno.test({
  name:
    "oversized tokens over HTTP: 400 from Deno at 64 KiB, 431 PGRST153 over the limit, PGRST301 under it",
  ignore: uri === undefined,
  async fn() {
    const sql = postgres(superUri(), { max: 1, onnotice: () => {} });
    await using server = await startServer({
      env: {
        PGRST_DB_SCHEMAS: "jwt_sec",
        PGRST_DB_ANON_ROLE: "web_anon",
        PGRST_JWT_SECRET: SECRET,
        PGRST_DB_PRE_REQUEST: "jwt_sec.pre_request",
        PGRST_DB_POOL: "2",
        // counters of its own: the attack suite runs in parallel
        PGRST_APP_SETTINGS_RUNS_PREFIX: "size_",
      },
    });
    try {
      const probe = (authorization: string) =>
        fetch(`${server.url}/rpc/probe`, {
          method: "POST",
          headers: {
            Authorization: authorization,
            "Content-Type": "application/json",
          },
          body: "{}",
        });
      const before = await runs(sql);

      const huge = await probe(`Bearer ${forgedToken(64 * 1024)}`);
      assert.equal(huge.status, 400);
      assert.equal(await huge.text(), "");

      const limit = DEFAULT_CONFIG.serverMaxHeaderBytes;
      const large = await probe(`Bearer ${forgedToken(limit + 4096)}`);
      assert.equal(large.status, 431);
      assert.deepEqual(await large.json(), {
        code: "PGRST153",
        details: `The request headers must not exceed ${limit} bytes`,
        hint: null,
        message: "Request header fields too large",
      });

      const big = await probe(`Bearer ${forgedToken(limit - 1024)}`);
      assert.equal(big.status, 401);
      assert.deepEqual(await big.json(), {
        code: "PGRST301",
        details: "None of the keys was able to decode the JWT",
        hint: null,
        message: "No suitable key or wrong key type",
      });
      assert.equal(await runs(sql), before);

      // the server is still serving
      const anon = await fetch(`${server.url}/rpc/probe`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: "{}",
      });
      assert.equal(anon.status, 200, await anon.clone().text());
      assert.equal(((await anon.json()) as { role: string }).role, "web_anon");
    } finally {
      await sql.end();
    }
  },
});
