/**
 * Root endpoint integration tests against the fixture database: `GET /`
 * follows the role's privileges, picks the schema from Accept-Profile,
 * negotiates Swagger 2.0 or OpenAPI 3.1, answers HEAD without a body and
 * 404 PGRST126 when `openapi-mode = disabled`.
 *
 * Needs PGRST_TEST_DB_URI (set by `deno task test`).
 *
 * @module
 */

import assert from "node:assert/strict";
import * as jose from "jose";
import { type Config, DEFAULT_CONFIG } from "../../src/config/types.ts";
import { makeHandler, type RunningApp, startApp } from "../../src/server.ts";

const uri = Deno.env.get("PGRST_TEST_DB_URI");
const SECRET = "reallyreallyreallyreallyverysafe";

const BASE: Config = {
  ...DEFAULT_CONFIG,
  dbUri: uri ?? "",
  dbSchemas: ["api", "api2"],
  dbAnonRole: "web_anon",
  jwtSecret: SECRET,
  dbTxEnd: "rollback-allow-override",
  dbPool: 2,
};

const CONFIGS = {
  follow: BASE,
  ignore: { ...BASE, openapiMode: "ignore-privileges" },
  disabled: { ...BASE, openapiMode: "disabled" },
} as const satisfies Record<string, Config>;

const apps = new Map<keyof typeof CONFIGS, Promise<RunningApp>>();

Deno.test.afterAll(async () => {
  for (const a of apps.values()) await (await a).close();
});

async function get(
  path: string,
  init: RequestInit & { app?: keyof typeof CONFIGS } = {},
): Promise<Response> {
  const name = init.app ?? "follow";
  let a = apps.get(name);
  if (a === undefined) {
    a = startApp(CONFIGS[name]);
    apps.set(name, a);
  }
  const running = await a;
  return await makeHandler(running.state)(
    new Request(`http://localhost${path}`, init),
  );
}

function test(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, ignore: uri === undefined, fn });
}

async function doc(res: Response): Promise<Record<string, unknown>> {
  const text = await res.text();
  assert.equal(res.status, 200, text);
  return JSON.parse(text) as Record<string, unknown>;
}

function keys(v: unknown): string[] {
  return typeof v === "object" && v !== null ? Object.keys(v) : [];
}

async function bearer(role: string): Promise<HeadersInit> {
  const jwt = await new jose.SignJWT({ role })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .sign(new TextEncoder().encode(SECRET));
  return { Authorization: `Bearer ${jwt}` };
}

test("GET / lists only what the anonymous role may use", async () => {
  const res = await get("/", {
    headers: { Accept: "application/openapi+json" },
  });
  assert.equal(
    res.headers.get("Content-Type"),
    "application/openapi+json; charset=utf-8",
  );
  assert.equal(res.headers.get("Content-Profile"), "api");
  const body = await doc(res);
  assert.equal(body["swagger"], "2.0");
  const paths = keys(body["paths"]);
  assert.ok(paths.includes("/items"), paths.join(" "));
  assert.ok(paths.includes("/select"));
  assert.ok(!paths.includes("/secrets"));
  assert.ok(!paths.includes("/things"));
  assert.ok(!keys(body["definitions"]).includes("secrets"));
});

test("GET / with a JWT lists the role's tables", async () => {
  const body = await doc(await get("/", { headers: await bearer("web_user") }));
  assert.ok(keys(body["paths"]).includes("/secrets"));
});

test("GET / with ignore-privileges lists every table", async () => {
  const body = await doc(await get("/", { app: "ignore" }));
  assert.ok(keys(body["paths"]).includes("/secrets"));
});

test("GET / with Accept-Profile describes that schema", async () => {
  const res = await get("/", { headers: { "Accept-Profile": "api2" } });
  assert.equal(res.headers.get("Content-Profile"), "api2");
  const paths = keys((await doc(res))["paths"]);
  assert.ok(paths.includes("/things"));
  assert.ok(!paths.includes("/items"));
});

test("GET / with version=3.1 answers OpenAPI 3.1", async () => {
  const res = await get("/", {
    headers: { Accept: "application/openapi+json;version=3.1" },
  });
  assert.equal(
    res.headers.get("Content-Type"),
    "application/openapi+json; version=3.1; charset=utf-8",
  );
  const body = await doc(res);
  assert.equal(body["openapi"], "3.1.0");
  assert.ok(keys(body["components"]).includes("schemas"));
});

test("HEAD / answers headers only, GET / text/csv 406", async () => {
  const head = await get("/", { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(await head.text(), "");
  assert.equal(head.headers.get("Content-Length"), null);
  const csv = await get("/", { headers: { Accept: "text/csv" } });
  assert.equal(csv.status, 406);
  assert.equal(((await csv.json()) as { code: string }).code, "PGRST107");
});

test("GET / with openapi-mode disabled answers 404 PGRST126", async () => {
  const res = await get("/", { app: "disabled" });
  assert.equal(res.status, 404);
  assert.deepEqual(await res.json(), {
    code: "PGRST126",
    details: null,
    hint: null,
    message: "Root endpoint metadata is disabled",
  });
});
