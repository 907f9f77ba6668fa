/**
 * Issue 9's mixed-load benchmark (`deno task bench:security`): does a flood
 * of invalid-JWT and hostile requests hurt pgrest's valid traffic, produce a
 * 5xx, or leave memory behind?
 *
 *   deno run -A bench/security_load.ts [--duration 60] [--connections 50]
 *     [--quiet-duration 15] [--quiet-connections 10] [--settle 30]
 *     [--cycles 1] [--out bench/results/security_load.json] [--seed 1]
 *     [--exclude KIND,…] [--v8-flags=--max-semi-space-size=4]
 *
 * 1. Starts a private PostgreSQL cluster with the test fixtures
 *    (tests/harness/with_pg.ts, `fresh: true`) and pgrest as its own process
 *    (`deno run -A main.ts`, tests/harness/server.ts) with
 *    `PGRST_DB_SCHEMAS=api,fuzz`, `PGRST_DB_ANON_ROLE=web_anon`, the tests'
 *    JWT secret and `PGRST_LOG_LEVEL=crit`; everything else is pgrest's
 *    default (pool 10, commit). The server's V8 flags are those of
 *    `deno task start` (`--max-semi-space-size=4`, through DENO_V8_FLAGS),
 *    or `--v8-flags` (`--v8-flags=` for V8's defaults). A 3 s warm-up is not measured; the RSS after
 *    it is the RSS "at start".
 * 2. Quiet phases: only valid requests (filtered reads, embeds, RPC by GET
 *    and POST, reads with a valid JWT of `web_user`, 1,500 distinct tokens,
 *    more than the JWT cache holds) on `--quiet-connections` connections,
 *    then on `--connections` (the attack's count, so that queueing on more
 *    connections can be told from harm done by the attack), each for
 *    `--quiet-duration` seconds; then `--settle` idle seconds and the idle
 *    RSS.
 * 3. Attack phase: `--connections` connections for `--duration` seconds,
 *    each request drawn at random: 40% valid (as above), 30% invalid JWT
 *    (alg none, bad signature, a wrong secret, expired, not yet valid,
 *    garbage, a 64 KiB and a 31 KiB Authorization header, a role that does
 *    not exist, SQL in the role, claims of the wrong type), 30% hostile
 *    (SQL-ish strings in filters, select, order and aliases, NUL bytes raw
 *    and escaped, URLs just under and over `server-max-url-length` and over
 *    Deno's 64 KiB line, bad and 2 MB JSON bodies, a lying Content-Length,
 *    deeply nested JSON, deep and too deep embeds, thousands of nested
 *    embeds or and/or trees, too many select items, bad Prefer, Range and
 *    Accept values, unknown names and methods, many headers, writes
 *    without privileges).
 * 4. `--settle` idle seconds, the RSS, and the first quiet phase again.
 *    `--cycles N` repeats steps 3 and 4, to tell a leak (growing every
 *    cycle) from the heap's size. `--exclude` leaves request kinds (as
 *    named in the report) out of the mix, to find what costs time or memory.
 *
 * The load generator is this process, outside the server: one raw HTTP/1.1
 * keep-alive TCP connection per loop (`Deno.connect`), so that hostile bytes
 * (a NUL in the request line, oversized headers) go out as written, which
 * `fetch` would refuse or rewrite. A request the server answers with
 * `Connection: close` (or by closing) costs a reconnect. Latency is from the
 * first byte written to the last byte of the response read.
 *
 * Every status >= 500 is a failure; the first few of each request kind are
 * kept with their response body. Connection errors (reset before an answer,
 * no answer within 30 s) are counted apart. The server's RSS (VmRSS of
 * `/proc/<pid>/status`) is sampled every second.
 *
 * The Markdown report goes to stdout, the JSON (every figure, per-kind
 * status counts, RSS samples) to `--out`. Progress goes to stderr.
 *
 * Targets (issue 9): attack-phase valid p99 under 4 × the quiet p99, no 5xx,
 * RSS after the settle within 20% of its value at start. The report judges
 * the ratios of step 3 against both quiet phases, and the RSS after the
 * last settle against both the RSS at start and the idle RSS before the
 * attack. The default settle is 30 s: V8's memory reducer gives memory back
 * in rounds, the first some 8 to 14 s after the allocation rate drops and
 * another some 10 s later, and the body parser's worker (src/body_parser.ts)
 * stops, with its heap, 10 s after its last job. Measured after the attack:
 * 206 MiB, 94 MiB at +10 s, 84 MiB at +20 s (80 MiB after the warm-up); a
 * 15 s settle read the middle step.
 *
 * @module
 */

import { dirname } from "node:path";
import { parseArgs } from "node:util";
import { SignJWT } from "jose";
import {
  startTestCluster,
  type TestCluster,
} from "../tests/harness/with_pg.ts";
import { startServer, type TestServer } from "../tests/harness/server.ts";

// ------------------------------------------------------------------ options

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    duration: { type: "string", default: "60" },
    connections: { type: "string", default: "50" },
    "quiet-duration": { type: "string", default: "15" },
    "quiet-connections": { type: "string", default: "10" },
    settle: { type: "string", default: "30" },
    cycles: { type: "string", default: "1" },
    exclude: { type: "string", default: "" },
    "v8-flags": { type: "string", default: "--max-semi-space-size=4" },
    out: { type: "string", default: "bench/results/security_load.json" },
    seed: { type: "string", default: "1" },
  },
});

function positive(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) {
    throw new Error(`--${name} must be a positive number, got ${text}`);
  }
  return n;
}

const OPTIONS = {
  durationS: positive("duration", flags.duration),
  connections: Math.round(positive("connections", flags.connections)),
  quietDurationS: positive("quiet-duration", flags["quiet-duration"]),
  quietConnections: Math.round(
    positive("quiet-connections", flags["quiet-connections"]),
  ),
  settleS: positive("settle", flags.settle),
  cycles: Math.round(positive("cycles", flags.cycles)),
  /** V8 flags of the server (DENO_V8_FLAGS), as `deno task start` has. */
  v8Flags: flags["v8-flags"],
  /** Request kinds left out of the mix (comma-separated), for diagnosis. */
  exclude: flags.exclude.split(",").map((k) => k.trim()).filter((k) =>
    k !== ""
  ),
  out: flags.out,
  seed: Math.round(positive("seed", flags.seed)),
} as const;

const SECRET = "reallyreallyreallyreallyverysafe";
const REQUEST_TIMEOUT_MS = 30_000;
/** Target ratios of issue 9. */
const TARGET_P99_RATIO = 4;
const TARGET_RSS_RATIO = 1.2;
/** 5xx responses kept per request kind. */
const SAMPLES_PER_KIND = 3;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function log(message: string): void {
  Deno.stderr.writeSync(encoder.encode(`security_load: ${message}\n`));
}

// ------------------------------------------------------------------ random

/** mulberry32: a small seeded generator, so that runs draw the same mix. */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ------------------------------------------------------------------ requests

/** The three classes of the mix; only `valid` latencies are judged. */
type RequestClass = "valid" | "bad_jwt" | "hostile";

/** One request to send, as bytes on the wire. */
interface WireRequest {
  readonly cls: RequestClass;
  /** A short name for the report, e.g. `jwt_alg_none`. */
  readonly kind: string;
  readonly method: string;
  /** The request target as sent (may hold bytes `fetch` would refuse). */
  readonly bytes: Uint8Array;
  /** Whether the response to this request has no body (HEAD). */
  readonly head: boolean;
  /** A printable description for 5xx samples (truncated). */
  readonly describe: string;
}

/** A generator of requests of one kind; `weight` is within its class. */
interface Template {
  readonly cls: RequestClass;
  readonly kind: string;
  readonly weight: number;
  readonly make: (rand: () => number) => WireRequest;
}

interface Draft {
  readonly method: string;
  /** Path and query string; a string is sent as UTF-8, bytes as they are. */
  readonly target: string | Uint8Array;
  readonly headers?: ReadonlyArray<readonly [string, string]>;
  readonly body?: string | Uint8Array;
  /** A Content-Length to claim instead of the body's length. */
  readonly claimLength?: number;
  /** Ask the server to close after the answer (unread bodies). */
  readonly close?: boolean;
}

let hostHeader = "127.0.0.1";

function build(cls: RequestClass, kind: string, d: Draft): WireRequest {
  const body = d.body === undefined
    ? undefined
    : typeof d.body === "string"
    ? encoder.encode(d.body)
    : d.body;
  const target = typeof d.target === "string"
    ? encoder.encode(d.target)
    : d.target;
  let head = `\r\nHost: ${hostHeader}\r\n`;
  for (const [name, value] of d.headers ?? []) head += `${name}: ${value}\r\n`;
  if (body !== undefined || d.claimLength !== undefined) {
    head += `Content-Length: ${d.claimLength ?? body?.length ?? 0}\r\n`;
  }
  if (d.close) head += "Connection: close\r\n";
  head += "\r\n";
  const parts = [
    encoder.encode(`${d.method} `),
    target,
    encoder.encode(" HTTP/1.1"),
    encoder.encode(head),
    ...(body === undefined ? [] : [body]),
  ];
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.length;
  }
  const printable = (text: string) =>
    text.replace(
      // deno-lint-ignore no-control-regex
      /[\x00-\x1f\x7f]/g,
      (c) => `\\x${c.charCodeAt(0).toString(16)}`,
    );
  const targetText = printable(decoder.decode(target));
  const headerText = (d.headers ?? []).map(([n, v]) =>
    `${n}: ${v.length > 80 ? `${v.slice(0, 80)}…(${v.length} chars)` : v}`
  ).join("; ");
  const bodyText = body === undefined
    ? ""
    : ` body(${body.length} bytes): ${
      printable(decoder.decode(body.subarray(0, 120)))
    }`;
  return {
    cls,
    kind,
    method: d.method,
    bytes,
    head: d.method === "HEAD",
    describe: `${d.method} ${
      targetText.length > 200
        ? `${targetText.slice(0, 200)}…(${targetText.length} chars)`
        : targetText
    }${headerText ? ` [${headerText}]` : ""}${bodyText}`,
  };
}

const b64url = (data: string | Uint8Array) => {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
};

async function sign(
  claims: Record<string, unknown>,
  secret = SECRET,
  alg = "HS256",
): Promise<string> {
  return await new SignJWT(claims)
    .setProtectedHeader({ alg, typ: "JWT" })
    .sign(encoder.encode(secret));
}

/** Tokens made once, before the load starts. */
interface Tokens {
  /** Valid tokens of `web_user`, each with its own `sub` and `jti`. */
  readonly valid: readonly string[];
  readonly algNone: string;
  readonly badSignature: string;
  readonly wrongSecretFresh: readonly string[];
  readonly expired: string;
  readonly notYetValid: string;
  readonly missingRole: string;
  readonly badClaimTypes: string;
  readonly sqlRole: string;
}

async function makeTokens(): Promise<Tokens> {
  const now = Math.floor(Date.now() / 1000);
  const valid: string[] = [];
  // Distinct tokens: more than jwt-cache-max-entries (1000), so that the
  // cache evicts while valid traffic runs.
  for (let i = 0; i < 1500; i++) {
    valid.push(
      await sign({
        role: "web_user",
        sub: i % 2 === 0 ? "alice" : "bob",
        jti: `t${i}`,
        exp: now + 86_400,
      }),
    );
  }
  const wrongSecretFresh: string[] = [];
  for (let i = 0; i < 200; i++) {
    wrongSecretFresh.push(
      await sign(
        { role: "web_user", jti: `w${i}` },
        "not-the-secret-not-the-secret-xx",
      ),
    );
  }
  const payload = b64url(JSON.stringify({ role: "web_user", sub: "alice" }));
  return {
    valid,
    algNone: `${b64url('{"alg":"none","typ":"JWT"}')}.${payload}.`,
    badSignature: `${b64url('{"alg":"HS256","typ":"JWT"}')}.${payload}.${
      b64url("x".repeat(32))
    }`,
    wrongSecretFresh,
    expired: await sign({ role: "web_user", exp: now - 3600 }),
    notYetValid: await sign({ role: "web_user", nbf: now + 3600 }),
    missingRole: await sign({ role: "no_such_role" }),
    badClaimTypes: await sign({ role: ["web_user"], exp: "tomorrow" }),
    sqlRole: await sign({ role: `web_user"; drop table api.items; --` }),
  };
}

function pick<T>(list: readonly T[], rand: () => number): T {
  const item = list[Math.floor(rand() * list.length)];
  if (item === undefined) throw new Error("pick from an empty list");
  return item;
}

/** The request mix: every template the load draws from. */
function templates(tokens: Tokens): Template[] {
  const t: Template[] = [];
  const add = (
    cls: RequestClass,
    kind: string,
    weight: number,
    make: (rand: () => number) => Draft,
  ) => t.push({ cls, kind, weight, make: (r) => build(cls, kind, make(r)) });
  const bearer = (token: string): [string, string] => [
    "Authorization",
    `Bearer ${token}`,
  ];
  const fuzz: [string, string] = ["Accept-Profile", "fuzz"];

  // ---------------------------------------------------------------- valid
  add("valid", "items_filtered", 3, () => ({
    method: "GET",
    target: "/items?select=id,name,price&price=lt.20&order=id&limit=10",
  }));
  add("valid", "items_by_id", 3, (r) => ({
    method: "GET",
    target: `/items?id=eq.${1 + Math.floor(r() * 20)}`,
  }));
  add("valid", "books_embed_authors", 2, () => ({
    method: "GET",
    target: "/books?select=title,published,authors(name)&order=id",
  }));
  add("valid", "rpc_add_get", 1, (r) => ({
    method: "GET",
    target: `/rpc/add?x=${Math.floor(r() * 100)}&y=2`,
    headers: [fuzz],
  }));
  add("valid", "rpc_echo_post", 1, (r) => ({
    method: "POST",
    target: "/rpc/echo",
    headers: [["Content-Profile", "fuzz"], [
      "Content-Type",
      "application/json",
    ]],
    body: JSON.stringify({ a: "hello", b: Math.floor(r() * 100) }),
  }));
  add("valid", "jwt_secrets", 2, (r) => ({
    method: "GET",
    target: "/secrets?select=id,secret&order=id",
    headers: [bearer(pick(tokens.valid, r))],
  }));
  add("valid", "jwt_items_tags", 2, (r) => ({
    method: "GET",
    target: "/items?select=id,name,tags&tags=cs.{office}&order=id",
    headers: [bearer(pick(tokens.valid, r)), ["Prefer", "count=exact"]],
  }));
  add("valid", "parents_embed_children", 1, () => ({
    method: "GET",
    target: "/parents?select=id,name,children(id,label)&order=id",
    headers: [fuzz],
  }));

  // ---------------------------------------------------------------- bad JWT
  const jwtGet = (header: [string, string]): Draft => ({
    method: "GET",
    target: "/items?select=id,name&limit=5",
    headers: [header],
  });
  add("bad_jwt", "jwt_alg_none", 2, () => jwtGet(bearer(tokens.algNone)));
  add(
    "bad_jwt",
    "jwt_bad_signature",
    2,
    () => jwtGet(bearer(tokens.badSignature)),
  );
  add(
    "bad_jwt",
    "jwt_wrong_secret_fresh",
    2,
    (r) => jwtGet(bearer(pick(tokens.wrongSecretFresh, r))),
  );
  add("bad_jwt", "jwt_expired", 2, () => jwtGet(bearer(tokens.expired)));
  add("bad_jwt", "jwt_nbf_future", 1, () => jwtGet(bearer(tokens.notYetValid)));
  add("bad_jwt", "jwt_garbage", 2, (r) =>
    jwtGet(
      pick<[string, string]>([
        bearer("not.a.jwt"),
        bearer("%%%.$$$.@@@"),
        bearer(b64url(crypto.getRandomValues(new Uint8Array(48)))),
        bearer("eyJhbGciOiJIUzI1NiJ9"),
        bearer("a.b.c.d.e"),
        ["Authorization", "Basic dXNlcjpwYXNz"],
        ["Authorization", "Bearer"],
        ["Authorization", "Bearer  "],
        bearer(`${b64url("{")}.${b64url("[")}.`),
        bearer(`${b64url('{"alg":"HS256"}')}.${b64url("null")}.sig`),
      ], r),
    ));
  add(
    "bad_jwt",
    "jwt_header_64k",
    1,
    () => ({ ...jwtGet(bearer("a".repeat(64 * 1024))), close: true }),
  );
  add(
    "bad_jwt",
    "jwt_header_31k",
    1,
    () =>
      jwtGet(bearer(`${b64url('{"alg":"HS256"}')}.${"A".repeat(31_000)}.x`)),
  );
  add(
    "bad_jwt",
    "jwt_missing_role",
    2,
    () => jwtGet(bearer(tokens.missingRole)),
  );
  add(
    "bad_jwt",
    "jwt_bad_claim_types",
    1,
    () => jwtGet(bearer(tokens.badClaimTypes)),
  );
  add("bad_jwt", "jwt_sql_role", 1, () => jwtGet(bearer(tokens.sqlRole)));

  // ---------------------------------------------------------------- hostile
  const q = encodeURIComponent;
  const sqlish = [
    "'; drop table api.items; --",
    "1 or 1=1",
    "1); select pg_sleep(10); --",
    `" or ""="`,
    "$$; select fuzz_private.canary(); $$",
    "E'\\x27' union select secret from api.secrets --",
    "*/ select 1 /*",
    "\\'); copy api.items to '/tmp/x'; --",
  ];
  add("hostile", "sqlish_filter_value", 3, (r) => ({
    method: "GET",
    target: `/items?name=${
      pick(["eq.", "like.", "ilike.", "in.(", "fts.", "cs.{"], r)
    }${q(pick(sqlish, r))}`,
  }));
  add("hostile", "sqlish_filter_column", 2, (r) => ({
    method: "GET",
    target: `/items?${q(pick(sqlish, r))}=eq.1`,
  }));
  add("hostile", "sqlish_select", 2, (r) => ({
    method: "GET",
    target: `/items?select=${
      q(pick([
        "id,name);select pg_sleep(10);--",
        "id::text);drop table x;--",
        "id,data->>'a'';drop'",
        "*,secrets(*)",
        "id,(select 1)",
        `id,name::"text; select 1"`,
      ], r))
    }`,
  }));
  add("hostile", "sqlish_alias", 2, (r) => ({
    method: "GET",
    target: `/items?select=${
      q(pick([
        `"x"" from api.secrets --":id`,
        `a;drop table items:id`,
        `"\u0000":name`,
        `${"a".repeat(200)}:id`,
        `"'":name`,
      ], r))
    }`,
  }));
  add("hostile", "sqlish_order", 2, (r) => ({
    method: "GET",
    target: `/items?order=${
      q(pick([
        "id;drop table api.items",
        "name.desc.nullsfirst,(select 1)",
        "id.asc;select pg_sleep(5)",
        "data->>'x'';--'.desc",
        "(case when 1=1 then id end)",
      ], r))
    }`,
  }));
  add("hostile", "nul_escaped", 2, (r) => ({
    method: "GET",
    target: pick([
      "/items?name=eq.%00",
      "/items?select=id%00,name",
      "/items%00?id=eq.1",
      "/items?order=id%00",
      "/rpc/echo?a=%00",
    ], r),
    headers: r() < 0.5 ? [] : [fuzz],
  }));
  add("hostile", "nul_raw", 1, (r) => ({
    method: "GET",
    target: encoder.encode(
      pick(["/items?name=eq.\u0000", "/it\u0000ems", "/items?id=eq.1\r\n"], r),
    ),
    close: true,
  }));
  add("hostile", "nul_json_body", 1, () => ({
    method: "POST",
    target: "/rpc/echo",
    headers: [["Content-Profile", "fuzz"], [
      "Content-Type",
      "application/json",
    ]],
    body: '{"a":"x\\u0000y","b":1}',
  }));
  // server-max-url-length is 16384 characters of path and query string
  /** `name=in.(…)` with as many 7-letter values as fit in `chars`. */
  const inList = (chars: number) => {
    const prefix = "/items?select=id&name=in.(";
    const n = Math.floor((chars - prefix.length) / 8);
    return `${prefix}${Array.from({ length: n }, () => "aaaaaaa").join(",")})`;
  };
  add("hostile", "url_near_limit", 1, () => ({
    method: "GET",
    target: inList(16_380),
  }));
  add("hostile", "url_over_limit", 1, () => ({
    method: "GET",
    target: inList(16_800),
  }));
  add("hostile", "url_over_64k", 1, () => ({
    method: "GET",
    target: `/items?name=eq.${"a".repeat(70_000)}`,
    close: true,
  }));
  add("hostile", "json_bad", 2, (r) => ({
    method: "POST",
    target: "/items",
    headers: [["Content-Type", "application/json"]],
    body: pick([
      '{"name":',
      "[1,2,",
      "{'name': 'x'}",
      '{"name":"x"}}',
      "\u0000",
      '{"__proto__":{"polluted":true},"name":"x"}',
      '{"name":"\\ud800"}',
      "NaN",
      "",
    ], r),
  }));
  add("hostile", "json_huge_2mb", 1, () => ({
    method: "POST",
    target: "/items",
    headers: [["Content-Type", "application/json"], [
      "Prefer",
      "return=minimal",
    ]],
    body: `[${
      Array.from({ length: 20_000 }, (_, i) =>
        `{"name":"item ${i} ${"x".repeat(60)}","price":${i}}`)
        .join(",")
    }]`,
  }));
  add("hostile", "json_deep_nesting", 1, (r) => {
    const depth = pick([1_000, 10_000, 100_000], r);
    return {
      method: "POST",
      target: "/rpc/echo",
      headers: [["Content-Profile", "fuzz"], [
        "Content-Type",
        "application/json",
      ]],
      body: `{"a":${"[".repeat(depth)}${"]".repeat(depth)}}`,
    };
  });
  add("hostile", "body_lying_length", 1, () => ({
    method: "POST",
    target: "/items",
    headers: [["Content-Type", "application/json"]],
    body: '{"name":"x"}',
    claimLength: 50 * 1024 * 1024,
    close: true,
  }));
  /** parents → children → parents …: `levels` levels of embedding. */
  const embed = (levels: number): string => {
    let s = "id";
    for (let i = levels - 1; i >= 0; i--) {
      s = `id,${i % 2 === 0 ? "children" : "parents"}(${s})`;
    }
    return s;
  };
  add("hostile", "embed_deep_allowed", 1, () => ({
    method: "GET",
    target: `/parents?select=${q(embed(12))}&limit=5`,
    headers: [fuzz],
  }));
  add("hostile", "embed_too_deep", 1, () => ({
    method: "GET",
    target: `/parents?select=${q(embed(30))}`,
    headers: [fuzz],
  }));
  add("hostile", "select_nested_deep", 1, (r) => {
    const levels = pick([200, 5000], r);
    return {
      method: "GET",
      target: `/items?select=${"a(".repeat(levels)}id${")".repeat(levels)}`,
    };
  });
  add("hostile", "select_too_many_items", 1, () => ({
    method: "GET",
    target: `/items?select=${
      Array.from({ length: 1100 }, () => "id").join(",")
    }`,
  }));
  add("hostile", "logic_tree_deep", 1, (r) => {
    const depth = pick([50, 500, 2000, 3200], r);
    let s = "id.eq.1";
    for (let i = 0; i < depth; i++) s = `${i % 2 ? "or" : "and"}(${s})`;
    return { method: "GET", target: `/items?or=(${s})` };
  });
  add("hostile", "bad_prefer", 2, (r) => ({
    method: "GET",
    target: "/items?limit=3",
    headers: [[
      "Prefer",
      pick([
        "handling=strict, bogus=yes",
        "count=bogus, timezone=Not/AZone",
        "handling=strict, timezone=Mars/Olympus",
        "return=representation; tx=commit; max-affected=-1",
        "count=exact, count=planned, handling=strict",
        `timezone=${"x".repeat(500)}`,
        "tx=commit, handling=strict",
      ], r),
    ]],
  }));
  add("hostile", "bad_range_accept", 2, (r) => ({
    method: "GET",
    target: "/items",
    headers: [pick<[string, string]>([
      ["Range", "0-99999999999999999999999"],
      ["Range", "5-2"],
      ["Range", "-1--1"],
      ["Accept", "application/vnd.pgrst.object+json"],
      ["Accept", "text/unknown, */*;q=bogus"],
      ["Accept", 'application/vnd.pgrst.plan+json; for="\';--"'],
      ["Accept-Profile", "pg_catalog"],
      ["Accept-Profile", "fuzz_private"],
    ], r)],
  }));
  add("hostile", "unknown_names", 1, (r) => ({
    method: "GET",
    target: pick([
      `/${"x".repeat(300)}`,
      "/pg_authid",
      "/vault",
      "/rpc/canary",
      "/rpc/pg_sleep?seconds=10",
      "/items/1/../../secrets",
    ], r),
    headers: r() < 0.5 ? [] : [fuzz],
  }));
  add("hostile", "bad_method", 1, (r) => ({
    method: pick(["BREW", "TRACE", "CONNECT", "PROPFIND", "DELETE"], r),
    target: "/items",
  }));
  add("hostile", "many_headers", 1, () => ({
    method: "GET",
    target: "/items?limit=1",
    headers: Array.from(
      { length: 90 },
      (_, i) => [`X-Junk-${i}`, "'; drop table x; --"] as [string, string],
    ),
  }));
  add("hostile", "write_as_anon", 1, () => ({
    method: "PATCH",
    target: "/items?id=eq.1",
    headers: [["Content-Type", "application/json"]],
    body: '{"name":"owned"}',
  }));
  return t;
}

/** Draws requests of the given classes, with class weights. */
function mixer(
  all: readonly Template[],
  classWeights: Readonly<Partial<Record<RequestClass, number>>>,
): (rand: () => number) => WireRequest {
  const entries: { cum: number; tpl: Template }[] = [];
  let total = 0;
  for (const [cls, share] of Object.entries(classWeights)) {
    const inClass = all.filter((x) => x.cls === cls);
    const sum = inClass.reduce((n, x) => n + x.weight, 0);
    for (const tpl of inClass) {
      total += (share ?? 0) * tpl.weight / sum;
      entries.push({ cum: total, tpl });
    }
  }
  // Requests are built once per template and draw: the random parts are
  // small, so building on the fly is cheap except for the big bodies,
  // which are cached by their description.
  const cache = new Map<string, WireRequest>();
  return (rand) => {
    const x = rand() * total;
    const entry = entries.find((e) => e.cum > x) ?? entries[entries.length - 1];
    if (entry === undefined) throw new Error("empty mix");
    const key = entry.tpl.kind;
    if (BIG_KINDS.has(key)) {
      let req = cache.get(key);
      if (req === undefined) {
        req = entry.tpl.make(rand);
        cache.set(key, req);
      }
      return req;
    }
    return entry.tpl.make(rand);
  };
}

/** Kinds whose single variant is costly to build: built once. */
const BIG_KINDS = new Set([
  "json_huge_2mb",
  "url_over_64k",
  "jwt_header_64k",
  "jwt_header_31k",
  "url_near_limit",
  "url_over_limit",
  "select_too_many_items",
]);

// ------------------------------------------------------------------ HTTP client

/** The answer to one request, or why there was none. */
type Outcome =
  | { readonly ok: true; readonly status: number; readonly body: Uint8Array }
  | { readonly ok: false; readonly error: "reset" | "timeout" | "connect" };

/** A keep-alive HTTP/1.1 connection with a read buffer. */
class Connection {
  #conn: Deno.TcpConn;
  #buf = new Uint8Array(64 * 1024);
  #start = 0;
  #end = 0;
  closed = false;

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
  }

  static async open(port: number): Promise<Connection> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.setNoDelay(true);
    return new Connection(conn);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }

  /** Reads more bytes into the buffer; false at end of stream. */
  async #fill(): Promise<boolean> {
    if (this.#start > 0 && this.#start === this.#end) {
      this.#start = this.#end = 0;
    }
    if (this.#end === this.#buf.length) {
      const size = this.#end - this.#start;
      const next = new Uint8Array(
        size * 2 > this.#buf.length ? this.#buf.length * 2 : this.#buf.length,
      );
      next.set(this.#buf.subarray(this.#start, this.#end));
      this.#buf = next;
      this.#start = 0;
      this.#end = size;
    }
    const n = await this.#conn.read(this.#buf.subarray(this.#end));
    if (n === null) return false;
    this.#end += n;
    return true;
  }

  /** Index of CRLF (or CRLFCRLF) from the buffer's start, or -1. */
  #find(crlfcrlf: boolean): number {
    const b = this.#buf;
    for (let i = this.#start; i + 1 < this.#end; i++) {
      if (b[i] === 13 && b[i + 1] === 10) {
        if (!crlfcrlf) return i;
        if (i + 3 < this.#end && b[i + 2] === 13 && b[i + 3] === 10) return i;
      }
    }
    return -1;
  }

  async #line(crlfcrlf: boolean): Promise<string | null> {
    let at = this.#find(crlfcrlf);
    while (at < 0) {
      if (!await this.#fill()) return null;
      at = this.#find(crlfcrlf);
    }
    const text = decoder.decode(this.#buf.subarray(this.#start, at));
    this.#start = at + (crlfcrlf ? 4 : 2);
    return text;
  }

  async #exact(n: number): Promise<Uint8Array | null> {
    while (this.#end - this.#start < n) {
      if (!await this.#fill()) return null;
    }
    const out = this.#buf.slice(this.#start, this.#start + n);
    this.#start += n;
    return out;
  }

  async #toEnd(): Promise<Uint8Array> {
    while (await this.#fill()) { /* until the server closes */ }
    const out = this.#buf.slice(this.#start, this.#end);
    this.#start = this.#end;
    return out;
  }

  /** Sends the request and reads one response. */
  async exchange(req: WireRequest): Promise<Outcome> {
    // Write and read at once: the server may answer (and close) before it
    // has read a large request.
    const written = this.#writeAll(req.bytes);
    try {
      const head = await this.#line(true);
      if (head === null) {
        await written;
        return { ok: false, error: "reset" };
      }
      const lines = head.split("\r\n");
      const status = Number(lines[0]?.split(" ")[1]);
      let length: number | null = null;
      let chunked = false;
      let close = false;
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(":");
        const name = line.slice(0, colon).trim().toLowerCase();
        const value = line.slice(colon + 1).trim().toLowerCase();
        if (name === "content-length") length = Number(value);
        else if (name === "transfer-encoding") chunked = value === "chunked";
        else if (name === "connection") close = value === "close";
      }
      let body: Uint8Array | null;
      if (req.head || status === 204 || status === 304 || status < 200) {
        body = new Uint8Array();
      } else if (chunked) {
        body = await this.#chunked();
      } else if (length !== null) {
        body = await this.#exact(length);
      } else {
        body = await this.#toEnd();
        close = true;
      }
      if (body === null) {
        await written;
        return { ok: false, error: "reset" };
      }
      if (close) this.close();
      // A write still in progress means the server answered without reading
      // the whole request: the connection cannot be reused.
      const done = await Promise.race([
        written.then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), 0)),
      ]);
      if (!done) this.close();
      await written;
      return { ok: true, status, body };
    } catch {
      this.close();
      await written;
      return { ok: false, error: "reset" };
    }
  }

  async #chunked(): Promise<Uint8Array | null> {
    const parts: Uint8Array[] = [];
    while (true) {
      const sizeLine = await this.#line(false);
      if (sizeLine === null) return null;
      const size = parseInt(sizeLine.split(";")[0] ?? "", 16);
      if (!Number.isFinite(size)) return null;
      if (size === 0) {
        // trailers until an empty line
        while (true) {
          const trailer = await this.#line(false);
          if (trailer === null) return null;
          if (trailer === "") break;
        }
        break;
      }
      const chunk = await this.#exact(size);
      if (chunk === null || (await this.#exact(2)) === null) return null;
      parts.push(chunk);
    }
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  /** Writes everything; resolves false if the server stopped reading. */
  async #writeAll(bytes: Uint8Array): Promise<boolean> {
    try {
      let at = 0;
      while (at < bytes.length) {
        at += await this.#conn.write(bytes.subarray(at));
      }
      return true;
    } catch {
      return false;
    }
  }
}

// ------------------------------------------------------------------ load

/** What one phase measured. */
interface PhaseResult {
  readonly name: string;
  readonly connections: number;
  readonly durationS: number;
  readonly requests: number;
  readonly requestsPerSecond: number;
  readonly valid: LatencySummary;
  readonly statusByClass: Record<string, Record<string, number>>;
  readonly statusByKind: Record<string, Record<string, number>>;
  /** Latency of every answered request, by kind (any status). */
  readonly latencyByKind: Record<string, LatencySummary>;
  readonly errors: {
    readonly reset: number;
    readonly timeout: number;
    readonly connect: number;
  };
  readonly reconnects: number;
  readonly serverErrors: number;
  readonly serverErrorSamples: readonly {
    readonly kind: string;
    readonly request: string;
    readonly status: number;
    readonly body: string;
  }[];
  /** Valid requests that did not answer 2xx (they must all succeed). */
  readonly validFailures: number;
  readonly validFailureSamples: readonly {
    readonly kind: string;
    readonly request: string;
    readonly status: number | string;
    readonly body: string;
  }[];
}

interface LatencySummary {
  readonly count: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly meanMs: number;
}

function summarize(latencies: number[]): LatencySummary {
  const sorted = Float64Array.from(latencies).sort();
  const at = (p: number) =>
    sorted.length === 0
      ? NaN
      : sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ??
        NaN;
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    count: sorted.length,
    p50Ms: round(at(0.5)),
    p90Ms: round(at(0.9)),
    p99Ms: round(at(0.99)),
    maxMs: round(sorted[sorted.length - 1] ?? NaN),
    meanMs: round(
      sorted.length === 0 ? NaN : sorted.reduce((a, b) => a + b, 0) /
        sorted.length,
    ),
  };
}

function bump(
  map: Record<string, Record<string, number>>,
  key: string,
  status: string,
): void {
  const inner = map[key] ??= {};
  inner[status] = (inner[status] ?? 0) + 1;
}

/** Runs `connections` closed loops for `durationS` seconds. */
async function runPhase(
  name: string,
  port: number,
  connections: number,
  durationS: number,
  draw: (rand: () => number) => WireRequest,
  seed: number,
): Promise<PhaseResult> {
  log(`${name}: ${connections} connections for ${durationS} s`);
  const latencies: number[] = [];
  const kindLatencies = new Map<string, number[]>();
  const statusByClass: Record<string, Record<string, number>> = {};
  const statusByKind: Record<string, Record<string, number>> = {};
  const errors = { reset: 0, timeout: 0, connect: 0 };
  const samples: PhaseResult["serverErrorSamples"][number][] = [];
  const sampleCount = new Map<string, number>();
  const validSamples: PhaseResult["validFailureSamples"][number][] = [];
  let validFailures = 0;
  let serverErrors = 0;
  let requests = 0;
  let reconnects = 0;
  const started = performance.now();
  const deadline = started + durationS * 1000;

  const loop = async (index: number) => {
    const rand = generator(seed * 1000 + index);
    let conn: Connection | null = null;
    while (performance.now() < deadline) {
      const req = draw(rand);
      if (conn === null || conn.closed) {
        try {
          conn = await Connection.open(port);
          reconnects++;
        } catch {
          errors.connect++;
          bump(statusByClass, req.cls, "connect_error");
          bump(statusByKind, req.kind, "connect_error");
          conn = null;
          await new Promise((r) => setTimeout(r, 100));
          continue;
        }
      }
      const current: Connection = conn;
      const t0 = performance.now();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<Outcome>((resolve) => {
        timer = setTimeout(() => {
          current.close();
          resolve({ ok: false, error: "timeout" });
        }, REQUEST_TIMEOUT_MS);
      });
      const outcome = await Promise.race([current.exchange(req), timeout]);
      clearTimeout(timer);
      const ms = performance.now() - t0;
      requests++;
      if (!outcome.ok) {
        errors[outcome.error]++;
        bump(statusByClass, req.cls, outcome.error);
        bump(statusByKind, req.kind, outcome.error);
        current.close();
        if (req.cls === "valid") {
          validFailures++;
          if (validSamples.length < 10) {
            validSamples.push({
              kind: req.kind,
              request: req.describe,
              status: outcome.error,
              body: "",
            });
          }
        }
        continue;
      }
      const status = String(outcome.status);
      let perKind = kindLatencies.get(req.kind);
      if (perKind === undefined) kindLatencies.set(req.kind, perKind = []);
      perKind.push(ms);
      bump(statusByClass, req.cls, status);
      bump(statusByKind, req.kind, status);
      if (outcome.status >= 500) {
        serverErrors++;
        const n = sampleCount.get(req.kind) ?? 0;
        if (n < SAMPLES_PER_KIND) {
          sampleCount.set(req.kind, n + 1);
          samples.push({
            kind: req.kind,
            request: req.describe,
            status: outcome.status,
            body: decoder.decode(outcome.body.subarray(0, 500)),
          });
        }
      }
      if (req.cls === "valid") {
        if (outcome.status >= 200 && outcome.status < 300) latencies.push(ms);
        else {
          validFailures++;
          if (validSamples.length < 10) {
            validSamples.push({
              kind: req.kind,
              request: req.describe,
              status: outcome.status,
              body: decoder.decode(outcome.body.subarray(0, 500)),
            });
          }
        }
      }
    }
    conn?.close();
  };

  await Promise.all(Array.from({ length: connections }, (_, i) => loop(i)));
  const elapsed = (performance.now() - started) / 1000;
  return {
    name,
    connections,
    durationS,
    requests,
    requestsPerSecond: Math.round(requests / elapsed),
    valid: summarize(latencies),
    statusByClass,
    statusByKind,
    latencyByKind: Object.fromEntries(
      [...kindLatencies].map(([k, v]) => [k, summarize(v)]),
    ),
    errors,
    reconnects,
    serverErrors,
    serverErrorSamples: samples,
    validFailures,
    validFailureSamples: validSamples,
  };
}

// ------------------------------------------------------------------ RSS

/** VmRSS of a process in KiB, or null when it is gone. */
async function rssKiB(pid: number): Promise<number | null> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return m?.[1] === undefined ? null : Number(m[1]);
  } catch {
    return null;
  }
}

/** Samples the RSS every second until stopped. */
function rssSampler(pid: number, t0: number) {
  const samples: { t: number; phase: string; kib: number }[] = [];
  let phase = "start";
  let stopped = false;
  const done = (async () => {
    while (!stopped) {
      const kib = await rssKiB(pid);
      if (kib !== null) {
        samples.push({
          t: Math.round((performance.now() - t0) / 100) / 10,
          phase,
          kib,
        });
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  return {
    samples,
    setPhase(p: string) {
      phase = p;
    },
    peak(p?: string): number {
      return Math.max(
        0,
        ...samples.filter((s) => p === undefined || s.phase === p).map((s) =>
          s.kib
        ),
      );
    },
    async stop() {
      stopped = true;
      await done;
    },
  };
}

// ------------------------------------------------------------------ report

const mib = (kib: number | null) =>
  kib === null ? "n/a" : `${(kib / 1024).toFixed(1)} MiB`;

function verdict(pass: boolean): string {
  return pass ? "**pass**" : "**FAIL**";
}

interface CycleResult {
  readonly attack: PhaseResult;
  /** RSS samples of the attack phase: their peak. */
  readonly peakAttackKiB: number;
  /** RSS after the attack and `--settle` idle seconds. */
  readonly afterSettleKiB: number | null;
  readonly quietAfter: PhaseResult;
  /** RSS after the quiet phase that follows. */
  readonly afterQuietKiB: number | null;
  /** Attack valid p99 ÷ quiet p99 at `--quiet-connections`. */
  readonly p99Ratio: number;
  /** Attack valid p99 ÷ valid-only p99 at the attack's connections. */
  readonly p99RatioSameConnections: number;
}

interface Report {
  readonly date: string;
  readonly machine: { readonly cpus: number; readonly deno: string };
  readonly options: typeof OPTIONS;
  readonly server: {
    readonly env: Record<string, string>;
    readonly pid: number;
    readonly aliveAtEnd: boolean;
    readonly output: string;
  };
  readonly mix: {
    readonly attack: Record<RequestClass, number>;
    readonly kinds: readonly {
      cls: RequestClass;
      kind: string;
      weight: number;
    }[];
  };
  readonly quiet: PhaseResult;
  /** Valid requests only, at the attack's connection count. */
  readonly quietWide: PhaseResult;
  readonly cycles: readonly CycleResult[];
  readonly rss: {
    /** After the warm-up, before the quiet phase. */
    readonly startKiB: number | null;
    /** After the quiet phases and `--settle` idle seconds. */
    readonly idleBeforeKiB: number | null;
    readonly samples: readonly { t: number; phase: string; kib: number }[];
  };
  readonly targets: {
    readonly p99RatioTarget: number;
    /** The worst cycle's attack valid p99 ÷ quiet p99. */
    readonly p99Ratio: number;
    readonly p99Pass: boolean;
    readonly p99RatioSameConnections: number;
    readonly serverErrors: number;
    readonly serverErrorsPass: boolean;
    readonly rssRatioTarget: number;
    /** The last settle's RSS ÷ the RSS after the warm-up. */
    readonly rssRatio: number | null;
    readonly rssPass: boolean;
    /** The last settle's RSS ÷ the idle RSS before the first attack. */
    readonly rssIdleRatio: number | null;
    readonly rssIdlePass: boolean;
  };
}

const ratio = (a: number | null, b: number | null, digits = 3) =>
  a === null || b === null || b === 0
    ? null
    : Math.round(a / b * 10 ** digits) / 10 ** digits;

function markdown(r: Report): string {
  const out: string[] = [];
  const phaseRow = (p: PhaseResult) =>
    `| ${p.name} | ${p.connections} | ${p.durationS} | ${p.requests} | ${p.requestsPerSecond} | ${p.valid.count} | ${p.valid.p50Ms} | ${p.valid.p90Ms} | ${p.valid.p99Ms} | ${p.valid.maxMs} | ${p.serverErrors} | ${
      p.errors.reset + p.errors.timeout + p.errors.connect
    } | ${p.validFailures} |`;
  const t = r.targets;
  const last = r.cycles[r.cycles.length - 1];
  const fixed = (x: number | null, d: number) =>
    x === null ? "n/a" : x.toFixed(d);
  const worst = r.cycles.reduce<CycleResult | undefined>(
    (w, c) => (w === undefined || c.p99Ratio > w.p99Ratio ? c : w),
    undefined,
  );
  out.push(
    "# Security mixed-load benchmark (issue 9)",
    "",
    `${r.date}, ${r.machine.cpus} CPUs, Deno ${r.machine.deno}, server V8 ` +
      `flags: ${r.options.v8Flags || "(V8's defaults)"}. Attack mix: ` +
      `${r.mix.attack.valid * 100}% valid, ${
        r.mix.attack.bad_jwt * 100
      }% invalid JWT, ${r.mix.attack.hostile * 100}% hostile; ` +
      `${r.cycles.length} attack cycle(s) of ${r.options.durationS} s at ` +
      `${r.options.connections} connections.`,
    "",
    "## Targets",
    "",
    "| target | measured | limit | verdict |",
    "| --- | ---: | ---: | --- |",
    `| attack valid p99 ÷ quiet p99 (${r.quiet.connections} connections) | ${
      t.p99Ratio.toFixed(2)
    } (${worst?.attack.valid.p99Ms} ms ÷ ${r.quiet.valid.p99Ms} ms) | < ${t.p99RatioTarget} | ${
      verdict(t.p99Pass)
    } |`,
    `| attack valid p99 ÷ valid-only p99 at ${r.quietWide.connections} connections | ${
      t.p99RatioSameConnections.toFixed(2)
    } (${worst?.attack.valid.p99Ms} ms ÷ ${r.quietWide.valid.p99Ms} ms) | < ${t.p99RatioTarget} | ${
      verdict(t.p99RatioSameConnections < t.p99RatioTarget)
    } |`,
    `| 5xx responses (all phases) | ${t.serverErrors} | 0 | ${
      verdict(t.serverErrorsPass)
    } |`,
    `| RSS after the last settle ÷ RSS after the warm-up | ${
      fixed(t.rssRatio, 3)
    } (${mib(last?.afterSettleKiB ?? null)} ÷ ${
      mib(r.rss.startKiB)
    }) | ≤ ${t.rssRatioTarget} | ${verdict(t.rssPass)} |`,
    `| RSS after the last settle ÷ idle RSS before the attack | ${
      fixed(t.rssIdleRatio, 3)
    } (${mib(last?.afterSettleKiB ?? null)} ÷ ${
      mib(r.rss.idleBeforeKiB)
    }) | ≤ ${t.rssRatioTarget} | ${verdict(t.rssIdlePass)} |`,
    "",
    "## Phases",
    "",
    "Latencies in ms, of valid requests answered 2xx only.",
    "",
    "| phase | conns | s | requests | req/s | valid | p50 | p90 | p99 | max | 5xx | conn errors | valid not 2xx |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    phaseRow(r.quiet),
    phaseRow(r.quietWide),
    ...r.cycles.flatMap((c) => [phaseRow(c.attack), phaseRow(c.quietAfter)]),
    "",
    "## RSS",
    "",
    `After the warm-up ${mib(r.rss.startKiB)}; idle after the quiet phases ` +
      `and ${r.options.settleS} s ${mib(r.rss.idleBeforeKiB)}. ` +
      `Server alive at the end: ${r.server.aliveAtEnd}.`,
    "",
    "| cycle | attack peak | after settle | after the quiet phase |",
    "| ---: | ---: | ---: | ---: |",
    ...r.cycles.map((c, i) =>
      `| ${i + 1} | ${mib(c.peakAttackKiB)} | ${mib(c.afterSettleKiB)} | ${
        mib(c.afterQuietKiB)
      } |`
    ),
    "",
    "V8 collects only when it allocates or when its memory reducer runs " +
      "(some seconds after the allocation rate drops), so RSS under load " +
      "swings with the heap, and an idle reading before the reducer has " +
      "run still holds the attack's garbage.",
    "",
  );
  r.cycles.forEach((c, i) => {
    out.push(
      `## Attack phase${
        r.cycles.length > 1 ? ` ${i + 1}` : ""
      }: statuses by request kind`,
      "",
      "Latencies in ms, of every answer of the kind (any status).",
      "",
      "| class | kind | statuses | p50 | p99 | max |",
      "| --- | --- | --- | ---: | ---: | ---: |",
    );
    const kindClass = new Map(r.mix.kinds.map((k) => [k.kind, k.cls]));
    const rows = Object.entries(c.attack.statusByKind).sort(([a], [b]) =>
      `${kindClass.get(a)}${a}`.localeCompare(`${kindClass.get(b)}${b}`)
    );
    for (const [kind, statuses] of rows) {
      const lat = c.attack.latencyByKind[kind];
      out.push(
        `| ${kindClass.get(kind)} | ${kind} | ${
          Object.entries(statuses).map(([s, n]) => `${s}: ${n}`).join(", ")
        } | ${lat?.p50Ms ?? ""} | ${lat?.p99Ms ?? ""} | ${lat?.maxMs ?? ""} |`,
      );
    }
    out.push("");
  });
  const phases = [
    r.quiet,
    r.quietWide,
    ...r.cycles.flatMap((c) => [c.attack, c.quietAfter]),
  ];
  const serverErrorSamples = phases.flatMap((p) => p.serverErrorSamples);
  if (serverErrorSamples.length > 0) {
    out.push("## 5xx samples", "");
    for (const s of serverErrorSamples) {
      out.push(
        `- \`${s.kind}\` → ${s.status}: \`${s.request}\``,
        `  - body: \`${s.body.replace(/`/g, "'")}\``,
      );
    }
    out.push("");
  }
  const validSamples = phases.flatMap((p) => p.validFailureSamples);
  if (validSamples.length > 0) {
    out.push("## Valid requests that failed", "");
    for (const s of validSamples) {
      out.push(
        `- \`${s.kind}\` → ${s.status}: \`${s.request}\` ${
          s.body.replace(/`/g, "'")
        }`,
      );
    }
    out.push("");
  }
  return out.join("\n");
}

// ------------------------------------------------------------------ main

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const t0 = performance.now();
  let cluster: TestCluster | null = null;
  let server: TestServer | null = null;
  let sampler: ReturnType<typeof rssSampler> | null = null;
  const cleanup = async () => {
    await sampler?.stop();
    await server?.stop();
    await cluster?.stop();
  };
  const onSignal = () => {
    log("interrupted; stopping the server and the cluster");
    cleanup().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    log("starting PostgreSQL with the test fixtures");
    cluster = await startTestCluster({ fresh: true });
    const env: Record<string, string> = {
      PGRST_DB_URI: cluster.uri,
      PGRST_DB_SCHEMAS: "api,fuzz",
      PGRST_DB_ANON_ROLE: "web_anon",
      PGRST_JWT_SECRET: SECRET,
      PGRST_LOG_LEVEL: "crit",
      ...(OPTIONS.v8Flags === "" ? {} : { DENO_V8_FLAGS: OPTIONS.v8Flags }),
    };
    log("starting pgrest");
    server = await startServer({ env });
    const port = server.port;
    const pid = server.process.pid;
    hostHeader = `127.0.0.1:${port}`;
    const tokens = await makeTokens();
    const known = templates(tokens);
    const unknown = OPTIONS.exclude.filter((k) =>
      !known.some((t) => t.kind === k)
    );
    if (unknown.length > 0) {
      throw new Error(`--exclude: no request kind ${unknown.join(", ")}`);
    }
    const all = known.filter((t) => !OPTIONS.exclude.includes(t.kind));
    sampler = rssSampler(pid, t0);
    const validOnly = mixer(all, { valid: 1 });
    const attackShares = { valid: 0.4, bad_jwt: 0.3, hostile: 0.3 } as const;
    const attackMix = mixer(all, attackShares);
    const settle = async (phase: string) => {
      sampler?.setPhase(phase);
      log(`idle for ${OPTIONS.settleS} s`);
      await sleep(OPTIONS.settleS * 1000);
      return await rssKiB(pid);
    };

    // A short warm-up (JIT, pool connections, caches), not measured.
    await runPhase("warm-up", port, 4, 3, validOnly, OPTIONS.seed + 7);
    const startKiB = await rssKiB(pid);
    // The quiet phases before and after an attack draw the same requests.
    sampler.setPhase("quiet");
    const quiet = await runPhase(
      "quiet",
      port,
      OPTIONS.quietConnections,
      OPTIONS.quietDurationS,
      validOnly,
      OPTIONS.seed,
    );
    sampler.setPhase("quiet-wide");
    const quietWide = await runPhase(
      `quiet at ${OPTIONS.connections}`,
      port,
      OPTIONS.connections,
      OPTIONS.quietDurationS,
      validOnly,
      OPTIONS.seed + 2,
    );
    const idleBeforeKiB = await settle("idle-before");

    const cycles: CycleResult[] = [];
    for (let i = 1; i <= OPTIONS.cycles; i++) {
      const suffix = OPTIONS.cycles > 1 ? ` ${i}` : "";
      sampler.setPhase(`attack${suffix}`);
      const attack = await runPhase(
        `attack${suffix}`,
        port,
        OPTIONS.connections,
        OPTIONS.durationS,
        attackMix,
        OPTIONS.seed + 10 * i,
      );
      const peakAttackKiB = sampler.peak(`attack${suffix}`);
      const afterSettleKiB = await settle(`settle${suffix}`);
      sampler.setPhase(`quiet-after${suffix}`);
      const quietAfter = await runPhase(
        `quiet after${suffix}`,
        port,
        OPTIONS.quietConnections,
        OPTIONS.quietDurationS,
        validOnly,
        OPTIONS.seed,
      );
      cycles.push({
        attack,
        peakAttackKiB,
        afterSettleKiB,
        quietAfter,
        afterQuietKiB: await rssKiB(pid),
        p99Ratio: ratio(attack.valid.p99Ms, quiet.valid.p99Ms, 2) ?? NaN,
        p99RatioSameConnections:
          ratio(attack.valid.p99Ms, quietWide.valid.p99Ms, 2) ?? NaN,
      });
    }
    await sampler.stop();
    const aliveAtEnd = (await rssKiB(pid)) !== null;
    const output = server.output();
    await server.stop();
    server = null;

    const lastSettle = cycles[cycles.length - 1]?.afterSettleKiB ?? null;
    const serverErrors = [
      quiet,
      quietWide,
      ...cycles.flatMap((c) => [
        c.attack,
        c.quietAfter,
      ]),
    ].reduce((n, p) => n + p.serverErrors, 0);
    const p99Ratio = Math.max(...cycles.map((c) => c.p99Ratio));
    const p99Same = Math.max(...cycles.map((c) => c.p99RatioSameConnections));
    const rssRatio = ratio(lastSettle, startKiB);
    const rssIdleRatio = ratio(lastSettle, idleBeforeKiB);
    const report: Report = {
      date: new Date().toISOString(),
      machine: {
        cpus: navigator.hardwareConcurrency,
        deno: Deno.version.deno,
      },
      options: OPTIONS,
      server: {
        env: { ...env, PGRST_DB_URI: "(private cluster)" },
        pid,
        aliveAtEnd,
        output: output.slice(-4000),
      },
      mix: {
        attack: attackShares,
        kinds: all.map(({ cls, kind, weight }) => ({ cls, kind, weight })),
      },
      quiet,
      quietWide,
      cycles,
      rss: { startKiB, idleBeforeKiB, samples: sampler.samples },
      targets: {
        p99RatioTarget: TARGET_P99_RATIO,
        p99Ratio,
        p99Pass: p99Ratio < TARGET_P99_RATIO,
        p99RatioSameConnections: p99Same,
        serverErrors,
        serverErrorsPass: serverErrors === 0 && aliveAtEnd,
        rssRatioTarget: TARGET_RSS_RATIO,
        rssRatio,
        rssPass: rssRatio !== null && rssRatio <= TARGET_RSS_RATIO,
        rssIdleRatio,
        rssIdlePass: rssIdleRatio !== null && rssIdleRatio <= TARGET_RSS_RATIO,
      },
    };
    await Deno.mkdir(dirname(OPTIONS.out), { recursive: true });
    await Deno.writeTextFile(
      OPTIONS.out,
      `${JSON.stringify(report, null, 2)}\n`,
    );
    const text = encoder.encode(markdown(report));
    let written = 0;
    while (written < text.length) {
      written += Deno.stdout.writeSync(text.subarray(written));
    }
    log(`wrote ${OPTIONS.out}`);
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    await cleanup();
  }
}

if (import.meta.main) await main();
