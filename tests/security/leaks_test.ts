/**
 * Tests that error responses leak nothing (issue 9, part C): "Perhaps you
 * meant" hints name only tables and functions the request's role may use,
 * `client-error-verbosity = minimal` leaves out details and hints, error
 * bodies carry no SQL text, stack trace or connection string, and a role's
 * `ALTER ROLE … SET statement_timeout` cancels its slow requests with
 * PostgREST's 500 57014. Runs the app in-process on the `leaks` fixture
 * (tests/fixtures/security_leaks.sql), and `main.ts` for the unreachable
 * database.
 *
 * Needs PGRST_TEST_DB_URI (set by `deno task test`).
 *
 * @module
 */

import assert from "node:assert/strict";
import * as jose from "jose";
import { type Config, DEFAULT_CONFIG } from "../../src/config/types.ts";
import { makeHandler, type RunningApp, startApp } from "../../src/server.ts";
import { freePort } from "../harness/free_port.ts";
import { startServer } from "../harness/server.ts";
import { request } from "../process/util.ts";

const uri = Deno.env.get("PGRST_TEST_DB_URI");
const SECRET = "reallyreallyreallyreallyverysafe";
const CONFIG: Config = {
  ...DEFAULT_CONFIG,
  dbUri: uri ?? "",
  dbSchemas: ["leaks"],
  dbAnonRole: "web_anon",
  jwtSecret: SECRET,
  dbPool: 2,
  dbChannelEnabled: false,
};

const apps = new Map<string, Promise<RunningApp>>();
function app(config: Config = CONFIG): Promise<RunningApp> {
  const key = config.clientErrorVerbosity;
  let a = apps.get(key);
  if (a === undefined) {
    a = startApp(config);
    apps.set(key, a);
  }
  return a;
}

Deno.test.afterAll(async () => {
  for (const a of apps.values()) await (await a).close();
});

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, ignore: uri === undefined, fn });

async function token(role: string): Promise<string> {
  return await new jose.SignJWT({ role })
    .setProtectedHeader({ alg: "HS256" })
    .sign(new TextEncoder().encode(SECRET));
}

interface Sent {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Record<string, unknown>;
  readonly text: string;
}

async function send(
  path: string,
  opts: {
    role?: string;
    method?: string;
    body?: string;
    config?: Config;
  } = {},
): Promise<Sent> {
  const a = await app(opts.config);
  const headers = new Headers({ "content-type": "application/json" });
  if (opts.role !== undefined) {
    headers.set("authorization", `Bearer ${await token(opts.role)}`);
  }
  const res = await makeHandler(a.state)(
    new Request(`http://localhost${path}`, {
      method: opts.method ?? "GET",
      headers,
      ...(opts.body === undefined ? {} : { body: opts.body }),
    }),
  );
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch { /* not JSON */ }
  return { status: res.status, headers: res.headers, body, text };
}

test("a table hint never names a table the role may not use", async () => {
  const anon = await send("/payroll_entrie");
  assert.equal(anon.status, 404);
  assert.equal(anon.body["code"], "PGRST205");
  assert.equal(anon.body["hint"], null);
  assert.ok(!anon.text.includes("payroll_entries"), anon.text);
  // the role that may read it gets the hint
  const user = await send("/payroll_entrie", { role: "web_user" });
  assert.equal(user.status, 404);
  assert.equal(
    user.body["hint"],
    "Perhaps you meant the table 'leaks.payroll_entries'",
  );
  // a table the role may use is still suggested
  const notes = await send("/public_note");
  assert.equal(
    notes.body["hint"],
    "Perhaps you meant the table 'leaks.public_notes'",
  );
});

test("a function hint never names a function the role may not execute", async () => {
  const anon = await send("/rpc/admin_rese", { method: "POST", body: "{}" });
  assert.equal(anon.status, 404);
  assert.equal(anon.body["code"], "PGRST202");
  assert.ok(!anon.text.includes("admin_reset"), anon.text);
  const user = await send("/rpc/admin_rese", {
    method: "POST",
    body: "{}",
    role: "web_user",
  });
  assert.equal(
    user.body["hint"],
    "Perhaps you meant to call the function leaks.admin_reset",
  );
});

test("a parameter hint never shows the parameters of a function the role may not execute", async () => {
  const anon = await send("/rpc/secret_op?other=1");
  assert.equal(anon.status, 404);
  assert.equal(anon.body["code"], "PGRST202");
  assert.equal(anon.body["hint"], null);
  assert.ok(!anon.text.includes("key"), anon.text);
  const user = await send("/rpc/secret_op?other=1", { role: "web_user" });
  assert.equal(
    user.body["hint"],
    "Perhaps you meant to call the function leaks.secret_op(key)",
  );
});

test("client-error-verbosity = minimal answers only code and message", async () => {
  const minimal: Config = { ...CONFIG, clientErrorVerbosity: "minimal" };
  for (
    const path of [
      "/public_note",
      "/public_notes?id=eq.notanumber",
      "/public_notes?select=nope",
    ]
  ) {
    const res = await send(path, { config: minimal });
    assert.ok(res.status >= 400, path);
    assert.deepEqual(Object.keys(res.body).sort(), ["code", "message"], path);
  }
  const verbose = await send("/public_note");
  assert.deepEqual(Object.keys(verbose.body).sort(), [
    "code",
    "details",
    "hint",
    "message",
  ]);
});

const FORBIDDEN_IN_ERRORS: readonly RegExp[] = [
  /\bselect\b.*\bfrom\b/i,
  /pgrst_source|_postgrest_t|set_config/i,
  /\n\s+at /,
  /file:\/\/|\.ts:\d+/,
  /postgres(ql)?:\/\//i,
  new RegExp(SECRET),
];

test("error bodies carry no SQL text, stack trace, connection string or secret", async () => {
  const cases: [string, { method?: string; body?: string; role?: string }][] = [
    ["/public_notes?id=eq.notanumber", {}],
    ["/public_notes?select=nope", {}],
    ["/public_notes?order=nope.desc", {}],
    ["/public_notes?id=like.%", {}],
    ["/public_notes?select=id::nosuchtype", {}],
    ["/public_notes", { method: "POST", body: "{bad json" }],
    ["/public_notes", { method: "POST", body: '{"id":"x"}' }],
    ["/public_notes", { method: "POST", body: '{"id":1}', role: "web_user" }],
    ["/payroll_entries", {}],
    ["/rpc/nap", { method: "POST", body: '{"s":"soon"}' }],
    ["/rpc/raise_pgrst", {
      method: "POST",
      body: '{"status":418,"name":"X-A","value":"a\\r\\nb"}',
    }],
  ];
  for (const [path, opts] of cases) {
    const res = await send(path, opts);
    assert.ok(res.status >= 400, `${path}: ${res.status}`);
    assert.equal(typeof res.body["code"], "string", `${path}: ${res.text}`);
    for (const re of FORBIDDEN_IN_ERRORS) {
      assert.ok(!re.test(res.text), `${path} leaks ${re}: ${res.text}`);
    }
  }
});

test("a role's statement_timeout cancels its slow request with 500 57014, as PostgREST", async () => {
  const res = await send("/rpc/nap", {
    method: "POST",
    body: '{"s":3}',
    role: "leaks_slow",
  });
  assert.equal(res.status, 500, res.text);
  assert.equal(res.body["code"], "57014");
  assert.equal(
    res.body["message"],
    "canceling statement due to statement timeout",
  );
  assert.equal(res.headers.get("proxy-status"), "PostgREST; error=57014");
  // the same call as another role runs to the end
  const quick = await send("/rpc/nap", {
    method: "POST",
    body: '{"s":0.3}',
    role: "web_user",
  });
  assert.equal(quick.status, 200, quick.text);
});

test("with the database unreachable, answers and logs never show the connection string's password", async () => {
  const password = "S3cret-Passw0rd-in-uri";
  const port = freePort();
  await using server = await startServer({
    env: {
      PGRST_DB_URI: `postgres://leakuser:${password}@127.0.0.1:${port}/nodb`,
      PGRST_DB_SCHEMAS: "leaks",
      PGRST_DB_ANON_ROLE: "web_anon",
      PGRST_LOG_LEVEL: "info",
    },
    ready: (status) => status === 503,
  });
  for (const path of ["/public_notes", "/rpc/nap", "/"]) {
    const res = await request(`${server.url}${path}`);
    assert.equal(res.status, 503, res.text);
    assert.ok(!res.text.includes(password), res.text);
    assert.ok(!res.text.includes("leakuser"), res.text);
    for (const re of FORBIDDEN_IN_ERRORS) {
      assert.ok(!re.test(res.text), `${path} leaks ${re}: ${res.text}`);
    }
  }
  await server.stop();
  assert.ok(!server.output().includes(password), server.output());
});
