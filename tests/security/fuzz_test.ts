/**
 * Injection fuzzing: a seeded, reproducible property test that sends
 * `PGRST_FUZZ_REQUESTS` (default 20,000) generated requests with hostile
 * strings in every position of the URL grammar, the bodies and the headers
 * (tests/security/fuzz_gen.ts) through the in-process handler, against the
 * `fuzz` schemas of tests/fixtures/security_fuzz.sql, 12 at a time; every
 * third request goes to an app with a second configuration (`VARIANT`).
 *
 * Every answer must be a result the role may see or a well-formed
 * PostgREST error:
 * - no status of 500 or more, and no hang (10 s per request);
 * - an error is a JSON object with `code`, `message`, `details` and `hint`;
 * - no SQLSTATE that would mean request text became SQL: of class 42 only
 *   the codes a name or value that stayed a name or value can cause
 *   (`ALLOWED_42`); 42601 syntax_error (but for the tsvector/tsquery input
 *   functions' "syntax error in tsvector", about a bound value), 42602
 *   invalid_name (but for "invalid name syntax" from `$n::regconfig`), 42P01
 *   undefined_table, 42P02 undefined_parameter, 42702 ambiguous_column, …
 *   fail the test;
 * - no response body holds the fixture's secret marker.
 *
 * The seed is `PGRST_FUZZ_SEED` (default fixed) and is printed; a failure
 * prints the seed, the request's index and a curl line. Writes cannot
 * change the fixture: the app runs with db-tx-end = rollback (not
 * overridable), and writes are sent one at a time so that rolled-back
 * transactions cannot deadlock one another.
 *
 * Needs PGRST_TEST_DB_URI (set by `deno task test`).
 *
 * @module
 */

import assert from "node:assert/strict";
import postgres from "postgres";
import { type Config, DEFAULT_CONFIG } from "../../src/config/types.ts";
import { makeHandler, type RunningApp, startApp } from "../../src/server.ts";
import { type Outcome, runFuzz } from "./fuzz_check.ts";
import {
  CANARY_MARKER,
  describe,
  encodeAll,
  FUZZ_JWT_SECRET,
  type FuzzRequest,
  generate,
  makeTokens,
  Rng,
  SECRET_MARKER,
  toRequest,
} from "./fuzz_gen.ts";

const uri = Deno.env.get("PGRST_TEST_DB_URI");
const SEED = Number(Deno.env.get("PGRST_FUZZ_SEED") ?? "20261127") >>> 0;
const REQUESTS = Number(Deno.env.get("PGRST_FUZZ_REQUESTS") ?? "20000");
const CONCURRENCY = 12;
const TIMEOUT_MS = 10_000;
/** Prints up to 20 requests answered with this code (e.g. PGRST100, 200). */
const SHOW = Deno.env.get("PGRST_FUZZ_SHOW") ?? null;

const CONFIG: Config = {
  ...DEFAULT_CONFIG,
  dbUri: uri ?? "",
  dbSchemas: ["fuzz", "fuzz_b"],
  dbAnonRole: "web_anon",
  jwtSecret: FUZZ_JWT_SECRET,
  dbTxEnd: "rollback",
  dbAggregatesEnabled: true,
  dbPlanEnabled: true,
  dbMaxRows: 50,
  dbPool: 8,
  dbChannelEnabled: false,
  dbPreRequest: "fuzz.pre_request",
};

/**
 * A second configuration for every third request: another default schema,
 * no prepared statements, legacy target names, no aggregates, no EXPLAIN,
 * no max rows.
 */
const VARIANT: Config = {
  ...CONFIG,
  dbSchemas: ["fuzz_b", "fuzz"],
  dbPreparedStatements: false,
  urlUseLegacyTargetNames: true,
  dbAggregatesEnabled: false,
  dbPlanEnabled: false,
  dbMaxRows: null,
  dbPool: 4,
};

const apps = new Map<Config, Promise<RunningApp>>();

Deno.test.afterAll(async () => {
  for (const a of apps.values()) await (await a).close();
});

async function handler(
  config: Config = CONFIG,
): Promise<(r: Request) => Promise<Response>> {
  let started = apps.get(config);
  if (started === undefined) {
    started = startApp(config);
    apps.set(config, started);
  }
  const a = await started;
  assert.ok(a.state.cache !== null, "the schema cache is loaded");
  return makeHandler(a.state);
}

function test(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, ignore: uri === undefined, fn });
}

Deno.test("the fuzz generator is reproducible: the same seed gives the same requests", async () => {
  const tokens = await makeTokens();
  const a = new Rng(7);
  const b = new Rng(7);
  for (let i = 0; i < 200; i++) {
    assert.deepEqual(generate(a, tokens), generate(b, tokens));
  }
});

Deno.test("every generated request has a hostile position and can be sent", async () => {
  const tokens = await makeTokens();
  const rng = new Rng(11);
  for (let i = 0; i < 2000; i++) {
    const r = generate(rng, tokens);
    assert.ok(r.hostile > 0, describe(r));
    toRequest(r); // must not throw
  }
});

test("the fixture's guards hold for web_anon: the canary raises its marker, the secrets are out of reach", async () => {
  // one connection, so that SET ROLE holds for every statement
  const sql = postgres(uri ?? "", { max: 1, onnotice: () => {} });
  try {
    await sql`set role web_anon`;
    await assert.rejects(
      sql`select fuzz_private.canary()`,
      (e: unknown) => e instanceof Error && e.message === CANARY_MARKER,
    );
    await assert.rejects(sql`select secret from fuzz.vault`, /permission/);
    await assert.rejects(sql`select password from fuzz.accounts`, /permission/);
    const rows = await sql`select body from fuzz.notes`;
    assert.ok(rows.length > 0);
    assert.ok(rows.every((r) => !String(r["body"]).includes(SECRET_MARKER)));
  } finally {
    await sql.end();
  }
});

test("hostile requests never give a 5xx, an SQL parse error or a secret", async () => {
  const handle = await handler();
  const variant = await handler(VARIANT);
  const tokens = await makeTokens();
  const rng = new Rng(SEED);
  const requests = Array.from(
    { length: REQUESTS },
    () => generate(rng, tokens),
  );
  const toVariant = new Set(requests.filter((_, i) => i % 3 === 2));
  const send = async (req: FuzzRequest): Promise<Outcome> => {
    const h = toVariant.has(req) ? variant : handle;
    const res = await h(toRequest(req));
    return {
      status: res.status,
      body: await res.text(),
      contentType: res.headers.get("content-type"),
    };
  };
  const run = await runFuzz(requests, send, {
    concurrency: CONCURRENCY,
    timeoutMs: TIMEOUT_MS,
    show: SHOW,
  });
  // deno-lint-ignore no-console
  console.log(`fuzz: seed ${SEED}, ${run.summary}`);
  assert.equal(
    run.failures.length,
    0,
    `PGRST_FUZZ_SEED=${SEED} PGRST_FUZZ_REQUESTS=${REQUESTS}: ` +
      `${run.failures.length}+ failing requests\n${run.failures.join("\n")}`,
  );
});

test("a NUL byte (%00) anywhere in the URL gives a clean 4xx", async () => {
  const handle = await handler();
  const urls = [
    "/parents?select=id,name&name=eq.alpha&order=id.desc&limit=1",
    "/parents?select=id,children(label)&children.order=id&or=(id.eq.1,name.eq.beta)",
    "/parents?id=in.(1,2)&info->a->>b=eq.x&select=al:name::text",
    "/rpc/echo?a=hi&b=1",
    "/rpc/find?q=a%25&select=id,name",
  ];
  for (const url of urls) {
    // after every character of the path and query string
    for (let k = 1; k <= url.length; k++) {
      const bad = url.slice(0, k) + "%00" + url.slice(k);
      const res = await handle(new Request(`http://localhost${bad}`));
      const text = await res.text();
      assert.ok(
        res.status >= 400 && res.status < 500,
        `${bad}: ${res.status} ${text}`,
      );
      const body: unknown = JSON.parse(text);
      assert.ok(typeof body === "object" && body !== null, bad);
      assert.deepEqual(Object.keys(body).sort(), [
        "code",
        "details",
        "hint",
        "message",
      ]);
    }
  }
  // and in a JSON body
  const res = await handle(
    new Request("http://localhost/parents", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ id: 9, name: "a\u0000b" }),
    }),
  );
  assert.equal(res.status, 400, await res.text());
  assert.ok(encodeAll("\u0000") === "%00");
});
