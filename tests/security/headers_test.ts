/**
 * Process tests of CORS and response header safety (issue 9, part C): an
 * origin outside `server-cors-allowed-origins` gets no CORS header, and
 * headers or statuses chosen by SQL (`response.headers`, `response.status`,
 * `RAISE SQLSTATE 'PGRST'`) can neither split the response with CR/LF, nor
 * override Content-Length or Transfer-Encoding, nor crash the server (Deno
 * 2.9 aborts the process on a control character in a header value). Runs
 * `main.ts` on the `leaks` fixture (tests/fixtures/security_leaks.sql) and
 * reads answers off raw TCP where fetch would hide the bytes.
 *
 * Needs PGRST_TEST_DB_URI (set by `deno task test`).
 *
 * @module
 */

import assert from "node:assert/strict";
import { startServer, type TestServer } from "../harness/server.ts";
import { errorCode, rawRequest, request, uri } from "../process/util.ts";

const GOOD = "https://app.example.com";

let started: Promise<TestServer> | null = null;
function server(): Promise<TestServer> {
  started ??= startServer({
    env: {
      PGRST_DB_SCHEMAS: "leaks",
      PGRST_DB_ANON_ROLE: "web_anon",
      PGRST_DB_POOL: "2",
      PGRST_SERVER_CORS_ALLOWED_ORIGINS: `${GOOD}, https://other.example.com`,
    },
  });
  return started;
}

Deno.test.afterAll(async () => {
  if (started !== null) await (await started).stop();
});

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, ignore: uri === undefined, fn });

function corsNames(h: Headers): string[] {
  return [...h.keys()].filter((k) => k.startsWith("access-control-"));
}

/** The server still answers a plain read. */
async function assertAlive(s: TestServer): Promise<void> {
  const ok = await request(`${s.url}/public_notes`);
  assert.equal(ok.status, 200, ok.text);
}

/** POST /rpc/<fn> with a JSON body, read off raw TCP. */
async function rawCall(
  s: TestServer,
  fn: string,
  args: Record<string, unknown>,
) {
  const body = JSON.stringify(args);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
  try {
    return await rawRequest(
      conn,
      `POST /rpc/${fn} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${new TextEncoder().encode(body).length}\r\n` +
        `Connection: close\r\n\r\n${body}`,
    );
  } finally {
    conn.close();
  }
}

test("an origin outside server-cors-allowed-origins gets no CORS header", async () => {
  const s = await server();
  const evil = await request(`${s.url}/public_notes`, {
    headers: { Origin: "https://evil.example.com" },
  });
  assert.equal(evil.status, 200);
  assert.deepEqual(corsNames(evil.headers), []);
  const preflight = await request(`${s.url}/public_notes`, {
    method: "OPTIONS",
    headers: {
      Origin: "https://evil.example.com",
      "Access-Control-Request-Method": "POST",
      "Access-Control-Request-Headers": "authorization",
    },
  });
  assert.deepEqual(corsNames(preflight.headers), []);
  // a prefix or a suffix of an allowed origin is another origin
  for (const o of [`${GOOD}.evil.com`, "https://app.example.co", "null"]) {
    const res = await request(`${s.url}/public_notes`, {
      headers: { Origin: o },
    });
    assert.deepEqual(corsNames(res.headers), [], o);
  }
});

test("an allowed origin is echoed with credentials and Vary: Origin, never '*'", async () => {
  const s = await server();
  const res = await request(`${s.url}/public_notes`, {
    headers: { Origin: GOOD },
  });
  assert.equal(res.headers.get("access-control-allow-origin"), GOOD);
  assert.equal(res.headers.get("access-control-allow-credentials"), "true");
  assert.match(res.headers.get("vary") ?? "", /Origin/);
  // error answers carry the same CORS headers
  const err = await request(`${s.url}/nope`, { headers: { Origin: GOOD } });
  assert.equal(err.status, 404);
  assert.equal(err.headers.get("access-control-allow-origin"), GOOD);
});

test("response.headers with CR/LF gets 500 PGRST111 and injects nothing", async () => {
  const s = await server();
  for (
    const [name, value] of [
      ["X-A", "a\r\nX-Injected: 1"],
      ["X-A", "a\nSet-Cookie: session=stolen"],
      ["X-A\r\nX-Injected", "1"],
      ["X A", "1"],
    ]
  ) {
    const res = await rawCall(s, "set_header", { name, value });
    assert.equal(res.status, 500, `${JSON.stringify(name)}: ${res.body}`);
    assert.equal(JSON.parse(res.body).code, "PGRST111");
    assert.ok(!res.headers.has("x-injected"));
    assert.ok(!res.headers.has("set-cookie"));
  }
  await assertAlive(s);
});

test("response.headers with a control character gets 500 PGRST111 and the server survives", async () => {
  const s = await server();
  for (const c of ["\x01", "\x0b", "\x1b", "\x7f"]) {
    const res = await rawCall(s, "set_header", {
      name: "X-A",
      value: `a${c}b`,
    });
    assert.equal(res.status, 500, JSON.stringify(c));
    assert.equal(JSON.parse(res.body).code, "PGRST111");
    await assertAlive(s);
  }
});

test("response.headers cannot override Content-Length, Transfer-Encoding or Connection", async () => {
  const s = await server();
  const framing: [string, string][] = [
    ["Content-Length", "0"],
    ["Content-Length", "100000"],
    ["Transfer-Encoding", "chunked"],
    ["Connection", "upgrade"],
  ];
  for (const [name, value] of framing) {
    const res = await rawCall(s, "set_header", { name, value });
    assert.equal(res.status, 200, `${name}: ${res.statusLine}`);
    // the body arrived whole and framed by the server
    const echoed: unknown = JSON.parse(res.body);
    assert.equal(typeof echoed, "string");
    assert.ok(String(echoed).includes(value), res.body);
    const length = res.headers.get("content-length");
    if (length !== undefined) {
      assert.equal(Number(length), new TextEncoder().encode(res.body).length);
    }
  }
  await assertAlive(s);
});

test("response.headers sends text beyond Latin-1 as UTF-8 bytes", async () => {
  const s = await server();
  const res = await rawCall(s, "set_header", {
    name: "X-Name",
    value: "José €",
  });
  assert.equal(res.status, 200);
  // rawRequest decodes the head as UTF-8
  assert.equal(res.headers.get("x-name"), "José €");
});

test("response.status outside 200-599 gets 500 PGRST112 and the server survives", async () => {
  const s = await server();
  for (const status of ["100", "101", "199", "600", "abc"]) {
    const res = await request(`${s.url}/rpc/set_status`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ s: status }),
    });
    assert.equal(res.status, 500, `${status}: ${res.text}`);
    assert.equal(errorCode(res), "PGRST112");
  }
  await assertAlive(s);
});

test("RAISE SQLSTATE 'PGRST' with a CR/LF or control-character header or a 1xx status gets 500 PGRST121", async () => {
  const s = await server();
  for (
    const args of [
      { status: 418, name: "X-A", value: "a\r\nX-Injected: 1" },
      { status: 418, name: "X-A", value: "a\x01b" },
      { status: 101, name: "X-A", value: "ok" },
    ]
  ) {
    const res = await rawCall(s, "raise_pgrst", args);
    assert.equal(res.status, 500, JSON.stringify(args));
    assert.equal(JSON.parse(res.body).code, "PGRST121");
    assert.ok(!res.headers.has("x-injected"));
  }
  const ok = await rawCall(s, "raise_pgrst", {
    status: 418,
    name: "X-A",
    value: "fine",
  });
  assert.equal(ok.status, 418);
  assert.equal(ok.headers.get("x-a"), "fine");
  await assertAlive(s);
});
