/**
 * Injection fuzzing: a seeded, reproducible property test that sends
 * `PGRST_FUZZ_REQUESTS` (default 20,000) generated requests with hostile
 * strings in every position of the URL grammar, the bodies and the headers
 * (tests/security/fuzz_gen.ts) through the in-process handler, against the
 * `fuzz` schemas of tests/fixtures/security_fuzz.sql, 12 at a time.
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
import * as jose from "jose";
import { type Config, DEFAULT_CONFIG } from "../../src/config/types.ts";
import { makeHandler, type RunningApp, startApp } from "../../src/server.ts";
import {
  describe,
  encodeAll,
  type FuzzRequest,
  generate,
  HOSTILE,
  Rng,
  SECRET_MARKER,
  type Tokens,
  toRequest,
} from "./fuzz_gen.ts";

const uri = Deno.env.get("PGRST_TEST_DB_URI");
const SECRET = "fuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzz";
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
  jwtSecret: SECRET,
  dbTxEnd: "rollback",
  dbAggregatesEnabled: true,
  dbPlanEnabled: true,
  dbMaxRows: 50,
  dbPool: 8,
  dbChannelEnabled: false,
  dbPreRequest: "fuzz.pre_request",
};

/**
 * SQLSTATEs of class 42 that a request can cause while every name stays a
 * quoted identifier and every value a bind parameter: a missing column or
 * type, a function or operator that does not exist for the types, a
 * privilege the role lacks, a cast that cannot be made, an ON CONFLICT
 * target without a unique index, a duplicate column in an INSERT list, a
 * column that is neither grouped nor aggregated (`select=*,id.sum()`), a
 * value for a GENERATED ALWAYS column.
 */
const ALLOWED_42 = new Set([
  "42501", // insufficient_privilege
  "42703", // undefined_column (a quoted name that is no column)
  "42704", // undefined_object (a cast to a type that does not exist)
  "42883", // undefined_function (an operator or function for these types)
  "42804", // datatype_mismatch
  "42846", // cannot_coerce
  "42P10", // invalid_column_reference (on_conflict without a unique index)
  "42701", // duplicate_column
  "42725", // ambiguous_function
  "42803", // grouping_error
  "428C9", // generated_always (a value for an identity column)
]);

/** Why an answer fails the property, or null when it passes. */
export function violation(
  req: FuzzRequest,
  status: number,
  contentType: string | null,
  body: string,
): string | null {
  if (status >= 500) return `status ${status}`;
  if (body.includes(SECRET_MARKER)) return "the secret marker leaked";
  if (status < 400) {
    if (
      req.method !== "HEAD" && body !== "" &&
      /^application\/(vnd\.pgrst\.(object|array)\+)?json/.test(
        contentType ?? "",
      )
    ) {
      try {
        JSON.parse(body);
      } catch {
        return `a ${status} JSON body that does not parse`;
      }
    }
    return null;
  }
  if (req.method === "HEAD") {
    return body === "" ? null : "a HEAD error with a body";
  }
  if (!(contentType ?? "").startsWith("application/json")) {
    return `an error with Content-Type ${contentType}`;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return "an error body that is not JSON";
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return "an error body that is not an object";
  }
  const keys = Object.keys(parsed).sort().join(",");
  if (keys !== "code,details,hint,message") return `error keys ${keys}`;
  const code = (parsed as Record<string, unknown>)["code"];
  if (typeof code !== "string") return "an error code that is not a string";
  const message = String((parsed as Record<string, unknown>)["message"]);
  if (code === "42601" && /^syntax error in ts(vector|query)\b/.test(message)) {
    // the input function of tsvector/tsquery rejecting a bound value
    return null;
  }
  if (code === "42602" && message === "invalid name syntax") {
    // a reg* input function (the fts language is a bound ::regconfig)
    return null;
  }
  if (code.startsWith("42") && !ALLOWED_42.has(code)) {
    return `SQLSTATE ${code} (request text may have become SQL)`;
  }
  return null;
}

async function token(role: string): Promise<string> {
  return await new jose.SignJWT({ role })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .sign(new TextEncoder().encode(SECRET));
}

async function makeTokens(): Promise<Tokens> {
  const roles = HOSTILE.filter((h) => h.length < 200).slice(0, 40);
  return {
    user: await token("web_user"),
    hostileRoles: await Promise.all(roles.map(token)),
  };
}

interface Outcome {
  readonly status: number;
  readonly body: string;
  readonly contentType: string | null;
}

async function send(
  handle: (r: Request) => Promise<Response>,
  req: FuzzRequest,
): Promise<Outcome> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer in ${TIMEOUT_MS} ms`)),
      TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([
      (async () => {
        const res = await handle(toRequest(req));
        return {
          status: res.status,
          body: await res.text(),
          contentType: res.headers.get("content-type"),
        };
      })(),
      hang,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A tiny mutex: writes go one at a time. */
function serial(): <T>(fn: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>) => {
    const next = tail.then(fn);
    tail = next.catch(() => {});
    return next;
  };
}

let running: Promise<RunningApp> | null = null;
function app(): Promise<RunningApp> {
  return running ??= startApp(CONFIG);
}

Deno.test.afterAll(async () => {
  if (running !== null) await (await running).close();
});

async function handler(): Promise<(r: Request) => Promise<Response>> {
  const a = await app();
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

test("hostile requests never give a 5xx, an SQL parse error or a secret", async () => {
  const handle = await handler();
  const tokens = await makeTokens();
  const rng = new Rng(SEED);
  const requests = Array.from(
    { length: REQUESTS },
    () => generate(rng, tokens),
  );
  const writes = serial();
  const failures: string[] = [];
  const statuses = new Map<number, number>();
  const codes = new Map<string, number>();
  let next = 0;
  let shown = 0;
  const t0 = performance.now();
  const worker = async () => {
    for (;;) {
      const i = next++;
      const req = requests[i];
      if (req === undefined) return;
      const isWrite = !["GET", "HEAD", "OPTIONS"].includes(req.method);
      let why: string | null;
      let detail = "";
      try {
        const out = isWrite
          ? await writes(() => send(handle, req))
          : await send(handle, req);
        statuses.set(out.status, (statuses.get(out.status) ?? 0) + 1);
        const code = /"code":"([^"]*)"/.exec(out.body)?.[1];
        if (code !== undefined) codes.set(code, (codes.get(code) ?? 0) + 1);
        why = violation(req, out.status, out.contentType, out.body);
        if (
          SHOW !== null && shown < 20 && (code ?? String(out.status)) === SHOW
        ) {
          shown++;
          // deno-lint-ignore no-console
          console.log(`#${i} ${describe(req)}\n  -> ${out.body.slice(0, 300)}`);
        }
        detail = out.body.slice(0, 400);
      } catch (e) {
        why = `threw: ${e instanceof Error ? e.message : String(e)}`;
      }
      if (why !== null && failures.length < 25) {
        failures.push(
          `#${i} ${why}\n  ${describe(req).slice(0, 2000)}\n  -> ${detail}`,
        );
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = (performance.now() - t0) / 1000;
  const summary = `fuzz: seed ${SEED}, ${REQUESTS} requests in ${
    seconds.toFixed(1)
  } s (${(REQUESTS / seconds).toFixed(0)} req/s); statuses ${
    JSON.stringify(Object.fromEntries([...statuses].sort()))
  }; codes ${JSON.stringify(Object.fromEntries([...codes].sort()))}`;
  // deno-lint-ignore no-console
  console.log(summary);
  assert.equal(
    failures.length,
    0,
    `PGRST_FUZZ_SEED=${SEED} PGRST_FUZZ_REQUESTS=${REQUESTS}: ` +
      `${failures.length}+ failing requests\n${failures.join("\n")}`,
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
