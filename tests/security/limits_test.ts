/**
 * Process tests of the request resource limits (issue 9, part C): one
 * `main.ts` with small limits (`server-max-body-bytes` 1000,
 * `server-max-url-length` 500, `server-max-header-bytes` 2000,
 * `server-max-embed-depth` 2, `server-max-select-items` 5,
 * `server-request-timeout` 1, `server-max-concurrent-requests` 2) on the
 * `leaks` fixture (tests/fixtures/security_leaks.sql), driven with fetch and
 * raw TCP (Deno.connect) for what fetch cannot send: a Content-Length
 * without the body, oversized header sections, slow header senders.
 *
 * Needs PGRST_TEST_DB_URI (set by `deno task test`).
 *
 * @module
 */

import assert from "node:assert/strict";
import postgres from "postgres";
import { freePort } from "../harness/free_port.ts";
import { startServer, type TestServer } from "../harness/server.ts";
import {
  errorCode,
  rawRequest,
  request,
  sleep,
  superUri,
  uri,
  waitFor,
} from "../process/util.ts";

const ENV: Record<string, string> = {
  PGRST_DB_SCHEMAS: "leaks",
  PGRST_DB_ANON_ROLE: "web_anon",
  PGRST_DB_POOL: "4",
  PGRST_SERVER_MAX_BODY_BYTES: "1000",
  PGRST_SERVER_MAX_URL_LENGTH: "500",
  PGRST_SERVER_MAX_HEADER_BYTES: "2000",
  PGRST_SERVER_MAX_EMBED_DEPTH: "2",
  PGRST_SERVER_MAX_SELECT_ITEMS: "5",
  PGRST_SERVER_REQUEST_TIMEOUT: "1",
  PGRST_SERVER_MAX_CONCURRENT_REQUESTS: "2",
};

let started: Promise<TestServer> | null = null;
function server(): Promise<TestServer> {
  started ??= startServer({ env: ENV });
  return started;
}
let superSql: postgres.Sql | null = null;
function sql(): postgres.Sql {
  superSql ??= postgres(superUri!, { max: 1, onnotice: () => {} });
  return superSql;
}

Deno.test.afterAll(async () => {
  if (started !== null) await (await started).stop();
  await superSql?.end({ timeout: 5 });
});

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, ignore: uri === undefined, fn });

function connect(s: TestServer): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: "127.0.0.1", port: s.port });
}

/** Backends of pgrest running `leaks.sleep` for longer than `ms`. */
async function sleepersOlderThan(ms: number): Promise<number> {
  const [row] = await sql()`select count(*)::int as n from pg_stat_activity
    where application_name = 'pgrest' and state = 'active'
      and query like '%"leaks"."sleep"%'
      and now() - query_start > make_interval(secs => ${ms / 1000})`;
  return Number(row?.n ?? 0);
}

async function sleepers(): Promise<number> {
  return await sleepersOlderThan(0);
}

test("a declared body over server-max-body-bytes gets 413 PGRST150 before it is sent", async () => {
  const s = await server();
  const conn = await connect(s);
  try {
    // a gigabyte is announced and never sent: the answer must not wait
    const res = await rawRequest(
      conn,
      "POST /public_notes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
        "Content-Length: 1000000000\r\n\r\n",
      5_000,
    );
    assert.equal(res.status, 413);
    assert.equal(JSON.parse(res.body).code, "PGRST150");
  } finally {
    conn.close();
  }
});

test("a client that goes away with half its declared body leaves the server serving", async () => {
  const s = await server();
  for (let i = 0; i < 3; i++) {
    const conn = await connect(s);
    await conn.write(
      new TextEncoder().encode(
        "POST /public_notes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
          'Content-Length: 500\r\n\r\n{"id": 2, "body": "',
      ),
    );
    await sleep(50);
    conn.close();
  }
  const res = await request(`${s.url}/public_notes?id=eq.1`, {}, 5_000);
  assert.equal(res.status, 200);
  assert.deepEqual(JSON.parse(res.text), [{ id: 1, body: "hello" }]);
});

test("a chunked body that grows past server-max-body-bytes gets 413 PGRST150", async () => {
  const s = await server();
  const big = new ReadableStream<Uint8Array>({
    start(c) {
      for (let i = 0; i < 4; i++) c.enqueue(new Uint8Array(400).fill(32));
      c.close();
    },
  });
  const res = await request(`${s.url}/public_notes`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: big,
  });
  assert.equal(res.status, 413, res.text);
  assert.equal(errorCode(res), "PGRST150");
});

test("a URL over server-max-url-length gets 414 PGRST151", async () => {
  const s = await server();
  const res = await request(
    `${s.url}/public_notes?body=eq.${"a".repeat(600)}`,
  );
  assert.equal(res.status, 414);
  assert.equal(errorCode(res), "PGRST151");
});

test("a header section over server-max-header-bytes gets 431 PGRST153", async () => {
  const s = await server();
  const res = await request(`${s.url}/public_notes`, {
    headers: { "X-Padding": "p".repeat(3000) },
  });
  assert.equal(res.status, 431);
  assert.equal(errorCode(res), "PGRST153");
  const ok = await request(`${s.url}/public_notes`, {
    headers: { "X-Padding": "p".repeat(1000) },
  });
  assert.equal(ok.status, 200, ok.text);
});

test("a header section too large for Deno's parser gets a 4xx and the server keeps serving", async () => {
  const s = await server();
  for (
    const head of [
      `GET /public_notes HTTP/1.1\r\nHost: x\r\nX-Big: ${
        "b".repeat(300_000)
      }\r\n\r\n`,
      `GET /public_notes HTTP/1.1\r\nHost: x\r\n${
        Array.from({ length: 300 }, (_, i) => `X-H${i}: v\r\n`).join("")
      }\r\n`,
    ]
  ) {
    const conn = await connect(s);
    try {
      const res = await rawRequest(conn, head, 5_000);
      assert.ok(res.status >= 400 && res.status < 500, res.statusLine);
    } catch (e) {
      // closing the connection is an acceptable refusal too
      assert.match(String(e), /closed|reset|broken/i);
    } finally {
      conn.close();
    }
  }
  const ok = await request(`${s.url}/public_notes`);
  assert.equal(ok.status, 200);
});

test("embeds deeper than server-max-embed-depth or more items than server-max-select-items get 400 PGRST152", async () => {
  const s = await server();
  const deep = await request(
    `${s.url}/public_notes?select=id,a(b(c(id)))`,
  );
  assert.equal(deep.status, 400, deep.text);
  assert.equal(errorCode(deep), "PGRST152");
  const wide = await request(`${s.url}/public_notes?select=id,id,id,id,id,id`);
  assert.equal(wide.status, 400, wide.text);
  assert.equal(errorCode(wide), "PGRST152");
});

test("a request running past server-request-timeout gets 504 PGRST154 and its statement is cancelled", async () => {
  const s = await server();
  const res = await request(`${s.url}/rpc/sleep`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ s: 5 }),
  });
  assert.equal(res.status, 504, res.text);
  assert.equal(errorCode(res), "PGRST154");
  assert.equal(res.headers.get("proxy-status"), "PostgREST; error=PGRST154");
  const took = res.end - res.start;
  assert.ok(took >= 900 && took < 2_500, `answered after ${took} ms`);
  // statement_timeout was capped at the same second: nothing keeps sleeping
  await waitFor(
    "the sleeping statement to be cancelled",
    async () => (await sleepersOlderThan(1_500)) === 0 ? true : undefined,
    3_000,
  );
  await sleep(600);
  assert.equal(await sleepersOlderThan(1_500), 0);
});

test("beyond server-max-concurrent-requests a request gets 503 PGRST155 at once, and is served again later", async () => {
  const s = await server();
  const slow = () =>
    request(`${s.url}/rpc/sleep`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ s: 0.8 }),
    });
  const a = slow();
  const b = slow();
  await waitFor(
    "two sleeping requests",
    async () => (await sleepers()) >= 2 ? true : undefined,
  );
  const refused = await request(`${s.url}/public_notes`);
  assert.equal(refused.status, 503, refused.text);
  assert.equal(errorCode(refused), "PGRST155");
  assert.equal(refused.headers.get("retry-after"), "1");
  assert.ok(refused.end - refused.start < 500, "refused at once");
  assert.equal((await a).status, 200);
  assert.equal((await b).status, 200);
  const again = await request(`${s.url}/public_notes`);
  assert.equal(again.status, 200, again.text);
});

test("slow header senders (slowloris) do not keep other clients from being served", async () => {
  const s = await server();
  const encoder = new TextEncoder();
  const conns: Deno.TcpConn[] = [];
  for (let i = 0; i < 20; i++) {
    const c = await connect(s);
    await c.write(encoder.encode("GET /public_notes HTTP/1.1\r\nHost: x\r\n"));
    conns.push(c);
  }
  try {
    for (let round = 0; round < 5; round++) {
      // one more header line on every connection, never the blank line
      for (const [i, c] of conns.entries()) {
        await c.write(encoder.encode(`X-${round}-${i}: a\r\n`)).catch(() => {});
      }
      const res = await request(`${s.url}/public_notes`, {}, 2_000);
      assert.equal(res.status, 200);
      assert.ok(
        res.end - res.start < 1_000,
        `served in ${res.end - res.start}`,
      );
      await sleep(200);
    }
  } finally {
    for (const c of conns) c.close();
  }
});

Deno.test("--dump-config shows every limit key, from PGRST_* variables", async () => {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(Deno.env.toObject())) {
    if (!k.startsWith("PGRST_")) env[k] = v;
  }
  Object.assign(env, ENV, { PGRST_DB_URI: "postgres://x@127.0.0.1/db" });
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", "--dump-config"],
    cwd: new URL("../../", import.meta.url),
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const text = new TextDecoder().decode(out.stdout);
  for (
    const line of [
      'server-max-body-bytes = "1000"',
      'server-max-url-length = "500"',
      'server-max-header-bytes = "2000"',
      'server-max-embed-depth = "2"',
      'server-max-select-items = "5"',
      'server-request-timeout = "1"',
      'server-max-concurrent-requests = "2"',
    ]
  ) {
    assert.ok(text.includes(line), `${line} in:\n${text}`);
  }
});

test("a flood of idle connections that exhausts the file descriptors does not stop the server for good", async () => {
  // main.ts under a low descriptor limit: Deno's listener fails on accept
  // once the limit is reached, and pgrest starts a new one
  const port = freePort();
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(Deno.env.toObject())) {
    if (!k.startsWith("PGRST_")) env[k] = v;
  }
  Object.assign(env, ENV, {
    PGRST_DB_URI: uri!,
    PGRST_SERVER_HOST: "127.0.0.1",
    PGRST_SERVER_PORT: String(port),
    PGRST_DB_POOL: "2",
    PGRST_LOG_LEVEL: "info",
  });
  const limit = 200;
  const child = new Deno.Command("sh", {
    args: [
      "-c",
      `ulimit -n ${limit} && exec "$0" run -A main.ts`,
      Deno.execPath(),
    ],
    cwd: new URL("../../", import.meta.url),
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output: string[] = [];
  const drained = Promise.all([child.stdout, child.stderr].map(async (s) => {
    for await (const t of s.pipeThrough(new TextDecoderStream())) {
      output.push(t);
    }
  }));
  // a new connection each time (fetch would reuse an accepted one)
  const probe = async (): Promise<number> => {
    let conn: Deno.TcpConn | null = null;
    try {
      conn = await Deno.connect({ hostname: "127.0.0.1", port });
      const res = await rawRequest(
        conn,
        "GET /public_notes HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        1_000,
      );
      return res.status;
    } catch {
      return 0;
    } finally {
      try {
        conn?.close();
      } catch { /* closed by rawRequest's deadline */ }
    }
  };
  const conns: Deno.TcpConn[] = [];
  try {
    await waitFor(
      "pgrest to answer",
      async () => (await probe()) === 200 ? true : undefined,
      20_000,
      100,
    );
    for (let i = 0; i < limit + 50; i++) {
      try {
        conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
      } catch {
        break;
      }
    }
    await sleep(500);
    for (const c of conns) c.close();
    conns.length = 0;
    // served again once the flood is gone
    await waitFor(
      "pgrest to serve again after the flood",
      async () => (await probe()) === 200 ? true : undefined,
      10_000,
      100,
    );
  } finally {
    for (const c of conns) c.close();
    child.kill("SIGTERM");
    await child.status;
    await drained;
  }
  const log = output.join("");
  assert.match(log, /HTTP listener failed/, log);
});

// ---------------------------------------------------------------- the guard

const GUARD_ENV: Record<string, string> = {
  PGRST_DB_SCHEMAS: "leaks",
  PGRST_DB_ANON_ROLE: "web_anon",
  PGRST_DB_POOL: "4",
  PGRST_SERVER_HEADER_READ_TIMEOUT: "1",
  PGRST_SERVER_MAX_CONNECTIONS: "30",
  PGRST_SERVER_MAX_HEADER_BYTES: "2000",
};

let guardStarted: Promise<TestServer> | null = null;
function guarded(): Promise<TestServer> {
  guardStarted ??= startServer({ env: GUARD_ENV });
  return guardStarted;
}

Deno.test.afterAll(async () => {
  if (guardStarted !== null) await (await guardStarted).stop();
});

/** Milliseconds until the server closes `conn` (reads until EOF or reset). */
async function closedAfter(conn: Deno.Conn, limitMs: number): Promise<number> {
  const t0 = performance.now();
  const buf = new Uint8Array(4096);
  const giveUp = setTimeout(() => conn.close(), limitMs);
  try {
    while ((await conn.read(buf)) !== null) { /* a response, then EOF */ }
  } catch {
    /* reset, or closed by giveUp */
  } finally {
    clearTimeout(giveUp);
  }
  return performance.now() - t0;
}

test("with the connection guard, a slowloris connection is closed after server-header-read-timeout", async () => {
  const s = await guarded();
  const encoder = new TextEncoder();
  const conn = await connect(s);
  await conn.write(encoder.encode("GET /public_notes HTTP/1.1\r\nHost: x\r\n"));
  let writing = true;
  const trickle = (async () => {
    for (let i = 0; writing && i < 30; i++) {
      await sleep(200);
      await conn.write(encoder.encode(`X-${i}: a\r\n`)).catch(() => {
        writing = false;
      });
    }
  })();
  const took = await closedAfter(conn, 5_000);
  writing = false;
  await trickle;
  try {
    conn.close();
  } catch { /* closed */ }
  assert.ok(took > 700 && took < 2_500, `closed after ${took} ms`);
});

test("with the connection guard, a slow header section on a kept-alive connection is closed too", async () => {
  const s = await guarded();
  const encoder = new TextEncoder();
  const conn = await connect(s);
  // a POST with a body, then a GET, then a third request that trickles
  const first = await rawRequest(
    conn,
    "POST /rpc/pub_echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
      `Content-Length: ${JSON.stringify({ x: "hi" }).length}\r\n\r\n` +
      JSON.stringify({ x: "hi" }),
  );
  assert.equal(first.status, 200, first.body);
  const second = await rawRequest(
    conn,
    "GET /public_notes HTTP/1.1\r\nHost: x\r\n\r\n",
  );
  assert.equal(second.status, 200);
  await conn.write(encoder.encode("GET /public_notes HTTP/1.1\r\n"));
  let writing = true;
  const trickle = (async () => {
    for (let i = 0; writing && i < 30; i++) {
      await sleep(200);
      await conn.write(encoder.encode(`X-${i}: a\r\n`)).catch(() => {
        writing = false;
      });
    }
  })();
  const took = await closedAfter(conn, 6_000);
  writing = false;
  await trickle;
  try {
    conn.close();
  } catch { /* closed */ }
  assert.ok(took > 700 && took < 3_000, `closed after ${took} ms`);
});

test("with the connection guard, a connection that sends nothing is closed after the timeout", async () => {
  const s = await guarded();
  const conn = await connect(s);
  const took = await closedAfter(conn, 5_000);
  try {
    conn.close();
  } catch { /* closed */ }
  assert.ok(took > 700 && took < 2_500, `closed after ${took} ms`);
});

test("with the connection guard, requests are served, kept-alive connections reused and slow answers not cut", async () => {
  const s = await guarded();
  const conn = await connect(s);
  try {
    const get = "GET /public_notes HTTP/1.1\r\nHost: x\r\n\r\n";
    const a = await rawRequest(conn, get);
    assert.equal(a.status, 200, a.body);
    const b = await rawRequest(conn, get);
    assert.equal(b.status, 200, b.body);
    // a request slower than the timeout keeps its connection
    const body = JSON.stringify({ s: 1.6 });
    const slow = await rawRequest(
      conn,
      "POST /rpc/sleep HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
        `Content-Length: ${body.length}\r\n\r\n${body}`,
    );
    assert.equal(slow.status, 200, slow.body);
    // then, idle, it is closed
    const took = await closedAfter(conn, 5_000);
    assert.ok(took > 700 && took < 2_500, `idle closed after ${took} ms`);
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
  }
  const viaFetch = await request(`${s.url}/public_notes`, {
    headers: { "X-Padding": "p".repeat(3000) },
  });
  assert.equal(viaFetch.status, 431);
  assert.equal(errorCode(viaFetch), "PGRST153");
});

test("with the connection guard, connections beyond server-max-connections get 503 PGRST155 with Retry-After", async () => {
  const s = await guarded();
  const conns: Deno.TcpConn[] = [];
  try {
    for (let i = 0; i < 30; i++) conns.push(await connect(s));
    await sleep(100);
    const extra = await connect(s);
    conns.push(extra);
    const res = await rawRequest(
      extra,
      "GET /public_notes HTTP/1.1\r\nHost: x\r\n\r\n",
      2_000,
    );
    assert.equal(res.status, 503);
    assert.deepEqual(JSON.parse(res.body), {
      code: "PGRST155",
      details: "The server keeps at most 30 connections open",
      hint: null,
      message: "Too many connections",
    });
    assert.equal(res.headers.get("retry-after"), "1");
  } finally {
    for (const c of conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
  }
  // the slots come back
  await sleep(200);
  const ok = await request(`${s.url}/public_notes`);
  assert.equal(ok.status, 200);
});

test("with the connection guard, SIGTERM stops the server cleanly with idle connections open", async () => {
  const s = await startServer({
    env: { ...GUARD_ENV, PGRST_SERVER_HEADER_READ_TIMEOUT: "30" },
  });
  const idle = await connect(s);
  const used = await connect(s);
  try {
    const res = await rawRequest(
      used,
      "GET /public_notes HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert.equal(res.status, 200);
    const t0 = performance.now();
    const status = await s.stop("SIGTERM", 10_000);
    const took = performance.now() - t0;
    assert.equal(status.code, 0, s.output());
    assert.ok(took < 5_000, `stopped after ${took} ms`);
  } finally {
    idle.close();
    used.close();
  }
});
