/**
 * Integration tests of settings applied to a request's transaction: the
 * role's `ALTER ROLE … SET` values and the called function's settings named
 * in `db-hoisted-tx-settings` (as PostgREST applies them).
 *
 * @module
 */

import assert from "node:assert/strict";
import * as jose from "jose";
import { type Config, DEFAULT_CONFIG } from "../../src/config/types.ts";
import { roleSettingsSql } from "../../src/schema_cache/catalog_sql.ts";
import { makeHandler, type RunningApp, startApp } from "../../src/server.ts";

const uri = Deno.env.get("PGRST_TEST_DB_URI");
const SECRET = "reallyreallyreallyreallyverysafe";
const CONFIG: Config = {
  ...DEFAULT_CONFIG,
  dbUri: uri ?? "",
  dbSchemas: ["settings"],
  dbAnonRole: "web_anon",
  jwtSecret: SECRET,
  dbPool: 2,
};

let running: Promise<RunningApp> | null = null;
function app(): Promise<RunningApp> {
  running ??= startApp(CONFIG);
  return running;
}

Deno.test.afterAll(async () => {
  if (running !== null) await (await running).close();
});

async function call(fn: string, token?: string): Promise<Response> {
  const a = await app();
  const headers = new Headers({ "content-type": "application/json" });
  if (token !== undefined) headers.set("authorization", `Bearer ${token}`);
  return await makeHandler(a.state)(
    new Request(`http://localhost/rpc/${fn}`, {
      method: "POST",
      body: "{}",
      headers,
    }),
  );
}

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, ignore: uri === undefined, fn });

function tokenFor(role: string): Promise<string> {
  return new jose.SignJWT({ role })
    .setProtectedHeader({ alg: "HS256" })
    .sign(new TextEncoder().encode(SECRET));
}

test("a role's ALTER ROLE … SET statement_timeout applies to its requests", async () => {
  const token = await new jose.SignJWT({ role: "web_user" })
    .setProtectedHeader({ alg: "HS256" })
    .sign(new TextEncoder().encode(SECRET));
  const user = await call("current_timeout", token);
  assert.equal(user.status, 200);
  assert.equal(await user.json(), "4321ms");
  const anon = await call("current_timeout");
  assert.equal(anon.status, 200);
  assert.notEqual(await anon.json(), "4321ms");
});

test("a function's hoisted statement_timeout applies to the whole statement", async () => {
  const res = await call("hoisted_sleep");
  const body = await res.json();
  assert.equal(body.code, "57014", JSON.stringify(body));
});

test("a function setting outside db-hoisted-tx-settings stays inside the function", async () => {
  const res = await call("local_worker_mem");
  assert.equal(res.status, 200);
  assert.equal(await res.json(), "7MB");
});

test("a role with a superuser-only setting (log_statement) still gets 200 and its settable settings", async () => {
  const token = await tokenFor("settings_guarded");
  const timeout = await call("current_timeout", token);
  const body: unknown = await timeout.json();
  assert.equal(timeout.status, 200, JSON.stringify(body));
  assert.equal(body, "2345ms");
  const foo = await call("app_foo", token);
  assert.equal(foo.status, 200);
  assert.equal(await foo.json(), "bar");
});

test("the schema cache keeps only the role settings the authenticator may set", async () => {
  const a = await app();
  const settings = new Map(
    a.state.cache?.roleSettings?.get("settings_guarded") ?? [],
  );
  assert.equal(settings.get("statement_timeout"), "2345ms");
  assert.equal(settings.get("app.foo"), "bar");
  assert.equal(settings.has("log_statement"), false);
  assert.equal(settings.has("log_min_duration_statement"), false);
});

test("a role's statement_timeout is still capped by server-request-timeout", async () => {
  const a = await app();
  const token = await tokenFor("settings_guarded");
  const before = a.state.config;
  a.state.config = { ...before, serverRequestTimeout: 2 };
  try {
    const res = await call("current_timeout", token);
    assert.equal(res.status, 200);
    assert.equal(await res.json(), "2s");
  } finally {
    a.state.config = before;
  }
});

test("the role settings query before PostgreSQL 15 runs and skips superuser-only settings", async () => {
  const a = await app();
  const rows = await a.state.db.query(roleSettingsSql(140000), []);
  const guarded = rows.filter((r) => r["role"] === "settings_guarded");
  const settable = new Map(guarded.map((r) => [r["name"], r["settable"]]));
  assert.equal(settable.get("log_statement"), false);
  assert.equal(settable.get("statement_timeout"), true);
  assert.equal(settable.get("app.foo"), true);
});

test("a role's or a function's default_transaction_isolation is the level its requests' transactions run at", async () => {
  const anon = await call("isolation");
  assert.equal(anon.status, 200);
  assert.equal(await anon.json(), "read committed");
  const serial = await call("isolation", await tokenFor("settings_serial"));
  assert.equal(serial.status, 200);
  assert.equal(await serial.json(), "serializable");
  // the function's own level (hoisted) wins over the role's
  const rr = await call("isolation_rr", await tokenFor("settings_serial"));
  assert.equal(rr.status, 200);
  assert.equal(await rr.json(), "repeatable read");
  const rrAnon = await call("isolation_rr");
  assert.equal(await rrAnon.json(), "repeatable read");
});
