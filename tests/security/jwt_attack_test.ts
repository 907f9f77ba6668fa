/**
 * The JWT attack suite: forged, malformed, expired and hostile tokens sent
 * end to end through the HTTP handler (`startApp` + `makeHandler`), each
 * answered with PostgREST's error and status, and none reaching the
 * database's main query.
 *
 * "Never reaches the main query" is measured, not assumed: every attack is a
 * `POST /rpc/probe`, whose function takes a number from the sequence
 * `jwt_sec.main_query_runs`, and the suite's `db-pre-request` takes one from
 * `jwt_sec.pre_request_runs` (tests/fixtures/security_jwt.sql). Sequences
 * are not transactional, so a run inside a rolled-back transaction still
 * counts. The counters are read as the superuser before and after each
 * attack, and a valid token moves both (the control).
 *
 * Key servers for `jku`/`x5u` and for a JWKS URL run on loopback and record
 * every request they get.
 *
 * Needs PGRST_TEST_DB_URI (set by `deno task test`).
 *
 * @module
 */

import assert from "node:assert/strict";
import postgres from "postgres";
import {
  exportJWK,
  exportSPKI,
  generateKeyPair,
  type JWK,
  SignJWT,
} from "jose";
import { type Config, DEFAULT_CONFIG } from "../../src/config/types.ts";
import { makeHandler, type RunningApp, startApp } from "../../src/server.ts";

const uri = Deno.env.get("PGRST_TEST_DB_URI");
const SECRET = "reallyreallyreallyreallyverysafe";
const AUDIENCE = "https://api.example.test";

// ------------------------------------------------------------------ keys

/** The provider's RSA key; its public half is the configured JWKS. */
const provider = await generateKeyPair("RS256", { extractable: true });
const providerJwk: JWK = {
  ...(await exportJWK(provider.publicKey)),
  kid: "k1",
  use: "sig",
};
/** An attacker's RSA key, offered through jku, x5u and jwk headers. */
const attacker = await generateKeyPair("RS256", { extractable: true });
const attackerJwk: JWK = { ...(await exportJWK(attacker.publicKey)) };

// ---------------------------------------------------------- key servers

/** A loopback HTTP server that records the path of every request. */
interface KeyServer {
  readonly url: string;
  readonly paths: string[];
  close(): Promise<void>;
}

function keyServer(routes: Record<string, unknown>): KeyServer {
  const paths: string[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => {
      const path = new URL(req.url).pathname;
      paths.push(path);
      const body = routes[path];
      return body === undefined
        ? new Response("not found", { status: 404 })
        : Response.json(body);
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    paths,
    close: () => server.shutdown(),
  };
}

/** Serves the attacker's key: only a server that fetches `jku` meets it. */
const evil = uri === undefined ? null : keyServer({
  "/jwks.json": { keys: [{ ...attackerJwk, kid: "k1" }] },
  "/x5u.pem": { keys: [attackerJwk] },
});
/** Serves the provider's JWKS for the `jwt-secret` URL configuration. */
const idp = uri === undefined
  ? null
  : keyServer({ "/keys": { keys: [providerJwk] } });

// ------------------------------------------------------------------ apps

const BASE: Config = {
  ...DEFAULT_CONFIG,
  dbUri: uri ?? "",
  dbSchemas: ["jwt_sec"],
  dbAnonRole: "web_anon",
  dbPreRequest: "jwt_sec.pre_request",
  dbPool: 2,
};

const CONFIGS = {
  /** An HMAC secret and an audience. */
  hmac: { ...BASE, jwtSecret: SECRET, jwtAud: AUDIENCE },
  /** A JWKS with one RSA key (no `alg`: the key type pins RS*). */
  jwks: { ...BASE, jwtSecret: JSON.stringify({ keys: [providerJwk] }) },
  /** The JWKS fetched from a URL (refreshes on unknown `kid`). */
  remote: { ...BASE, jwtSecret: `${idp?.url ?? ""}/keys` },
} as const satisfies Record<string, Config>;

type AppName = keyof typeof CONFIGS;

const apps = new Map<AppName, Promise<RunningApp>>();

function app(name: AppName): Promise<RunningApp> {
  let a = apps.get(name);
  if (a === undefined) {
    a = startApp(CONFIGS[name]);
    apps.set(name, a);
  }
  return a;
}

let superSql: postgres.Sql | null = null;

/** A superuser connection, for the counters. */
function db(): postgres.Sql {
  if (superSql === null) {
    let superUri = Deno.env.get("PGRST_TEST_DB_SUPER_URI");
    if (superUri === undefined) {
      const u = new URL(uri ?? "");
      u.username = "postgres";
      u.password = "";
      superUri = u.toString();
    }
    superSql = postgres(superUri, { max: 1, onnotice: () => {} });
  }
  return superSql;
}

Deno.test.afterAll(async () => {
  for (const a of apps.values()) await (await a).close();
  await superSql?.end();
  await evil?.close();
  await idp?.close();
});

function test(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, ignore: uri === undefined, fn });
}

// ------------------------------------------------------------- requests

interface Runs {
  readonly main: number;
  readonly preRequest: number;
}

/** How often the probe and the pre-request function have run so far. */
async function runs(): Promise<Runs> {
  const [row] = await db()<{ main: string; pre: string }[]>`
    select
      coalesce(pg_sequence_last_value('jwt_sec.main_query_runs'), 0) as main,
      coalesce(pg_sequence_last_value('jwt_sec.pre_request_runs'), 0) as pre`;
  assert.ok(row !== undefined);
  return { main: Number(row.main), preRequest: Number(row.pre) };
}

interface Answer {
  readonly status: number;
  readonly body: unknown;
  readonly challenge: string | null;
}

/** `POST /rpc/probe` with `authorization` (null: no header). */
async function probe(
  authorization: string | null,
  name: AppName = "hmac",
): Promise<Answer> {
  const running = await app(name);
  const handle = makeHandler(running.state);
  const headers = new Headers({ "Content-Type": "application/json" });
  if (authorization !== null) headers.set("Authorization", authorization);
  const res = await handle(
    new Request("http://localhost/rpc/probe", {
      method: "POST",
      headers,
      body: "{}",
    }),
  );
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`not JSON (status ${res.status}): ${text}`);
  }
  return {
    status: res.status,
    body,
    challenge: res.headers.get("WWW-Authenticate"),
  };
}

/** Sends an attack and checks that neither probe counter moved. */
async function attack(
  authorization: string | null,
  name: AppName = "hmac",
): Promise<Answer> {
  const before = await runs();
  const answer = await probe(authorization, name);
  assert.notEqual(answer.status, 200, JSON.stringify(answer.body));
  assert.ok(answer.status < 500, JSON.stringify(answer.body));
  assert.deepEqual(
    await runs(),
    before,
    "the request reached the pre-request or main query",
  );
  return answer;
}

/** PostgREST's `WWW-Authenticate` for a JWT error. */
function invalidToken(message: string): string {
  return `Bearer error="invalid_token", error_description="${message}"`;
}

/** Asserts a PGRST301/PGRST303 answer: 401, body and challenge. */
function assertJwtError(
  answer: Answer,
  code: "PGRST301" | "PGRST303",
  message: string,
  details: string | null = null,
): void {
  assert.equal(answer.status, 401, JSON.stringify(answer.body));
  assert.deepEqual(answer.body, { code, details, hint: null, message });
  assert.equal(answer.challenge, invalidToken(message));
}

// --------------------------------------------------------------- tokens

const enc = new TextEncoder();

function b64url(data: string | Uint8Array): string {
  const bytes = typeof data === "string" ? enc.encode(data) : data;
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** An HS256 token over the exact header and payload text given. */
async function hmacRaw(
  header: string,
  payload: string,
  secret: string | Uint8Array<ArrayBuffer> = SECRET,
): Promise<string> {
  const keyBytes = typeof secret === "string" ? enc.encode(secret) : secret;
  const key = await crypto.subtle.importKey(
    "raw",
    keyBytes,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const input = `${b64url(header)}.${b64url(payload)}`;
  const sig = await crypto.subtle.sign("HMAC", key, enc.encode(input));
  return `${input}.${b64url(new Uint8Array(sig))}`;
}

/** A valid HS256 token for the `hmac` app. */
function hs256(
  claims: Record<string, unknown>,
  secret: string | Uint8Array<ArrayBuffer> = SECRET,
): Promise<string> {
  return hmacRaw(
    JSON.stringify({ alg: "HS256", typ: "JWT" }),
    JSON.stringify(claims),
    secret,
  );
}

/** An RS256 token with extra header parameters. */
function rs256(
  claims: Record<string, unknown>,
  key: CryptoKey,
  header: Record<string, unknown> = {},
): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ ...header, alg: "RS256" })
    .sign(key);
}

const bearer = (token: string) => `Bearer ${token}`;

// ------------------------------------------------------------- controls

test("control: a valid token reaches the pre-request and the main query", async () => {
  const before = await runs();
  const answer = await probe(
    bearer(await hs256({ role: "web_user", aud: AUDIENCE })),
  );
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  assert.deepEqual(answer.body, { run: before.main + 1, role: "web_user" });
  assert.deepEqual(await runs(), {
    main: before.main + 1,
    preRequest: before.preRequest + 1,
  });
});

test("control: a request without a token runs as the anonymous role", async () => {
  const before = await runs();
  const answer = await probe(null);
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  assert.deepEqual(answer.body, { run: before.main + 1, role: "web_anon" });
});

test("control: RS256 from the JWKS and from the JWKS URL are accepted", async () => {
  const token = await rs256({ role: "web_user" }, provider.privateKey, {
    kid: "k1",
  });
  for (const name of ["jwks", "remote"] as const) {
    const answer = await probe(bearer(token), name);
    assert.equal(answer.status, 200, `${name}: ${JSON.stringify(answer.body)}`);
  }
});

// ------------------------------------------------------------- alg none

test("alg none in any casing is PGRST301 with or without a signature", async () => {
  const payload = b64url(JSON.stringify({ role: "web_user" }));
  for (const alg of ["none", "None", "NONE", "nOnE"]) {
    const header = b64url(JSON.stringify({ alg, typ: "JWT" }));
    for (const signature of ["", "c2lnbmF0dXJl"]) {
      for (const name of ["hmac", "jwks"] as const) {
        assertJwtError(
          await attack(bearer(`${header}.${payload}.${signature}`), name),
          "PGRST301",
          "Wrong or unsupported encoding algorithm",
          "JWT is unsecured but expected 'alg' was not 'none'",
        );
      }
    }
  }
});

test("an unknown alg is PGRST301", async () => {
  for (const alg of ["HS1", "RS1", "none ", "", "HS256\u0000"]) {
    const token = await hmacRaw(
      JSON.stringify({ alg }),
      JSON.stringify({ role: "web_user" }),
    );
    assertJwtError(
      await attack(bearer(token)),
      "PGRST301",
      "JWT cryptographic operation failed",
    );
  }
});

// ------------------------------------------------- keys and algorithms

test("HS256 signed with the configured RSA public key is PGRST301", async () => {
  // The classic algorithm confusion: the public key used as an HMAC secret,
  // in every encoding an attacker might guess.
  const pem = await exportSPKI(provider.publicKey);
  const der = new Uint8Array(
    await crypto.subtle.exportKey("spki", provider.publicKey),
  );
  const secrets: (string | Uint8Array<ArrayBuffer>)[] = [
    pem,
    pem.trim(),
    JSON.stringify(providerJwk),
    JSON.stringify({ keys: [providerJwk] }),
    der,
    providerJwk.n ?? "",
  ];
  for (const secret of secrets) {
    for (const header of [{ alg: "HS256" }, { alg: "HS256", kid: "k1" }]) {
      const token = await hmacRaw(
        JSON.stringify(header),
        JSON.stringify({ role: "web_user" }),
        secret,
      );
      for (const name of ["jwks", "remote"] as const) {
        assertJwtError(
          await attack(bearer(token), name),
          "PGRST301",
          "No suitable key or wrong key type",
          "No suitable key was found to decode the JWT",
        );
      }
    }
  }
});

test("a token signed with another secret or key is PGRST301", async () => {
  assertJwtError(
    await attack(
      bearer(await hs256({ role: "web_user" }, `${SECRET}-but-not-this`)),
    ),
    "PGRST301",
    "No suitable key or wrong key type",
    "None of the keys was able to decode the JWT",
  );
  const forged = await rs256({ role: "web_user" }, attacker.privateKey, {
    kid: "k1",
  });
  for (const name of ["jwks", "remote"] as const) {
    assertJwtError(
      await attack(bearer(forged), name),
      "PGRST301",
      "No suitable key or wrong key type",
      "None of the keys was able to decode the JWT",
    );
  }
});

test("an unknown kid is PGRST301 even when the signature is right", async () => {
  const token = await rs256({ role: "web_user" }, provider.privateKey, {
    kid: "k2",
  });
  for (const name of ["jwks", "remote"] as const) {
    assertJwtError(
      await attack(bearer(token), name),
      "PGRST301",
      "No suitable key or wrong key type",
      "No suitable key was found to decode the JWT",
    );
  }
});

test("jku, x5u and jwk headers are never fetched nor used", async () => {
  assert.ok(evil !== null && idp !== null);
  const claims = { role: "web_user" };
  const headers: Record<string, unknown>[] = [
    { jku: `${evil.url}/jwks.json` },
    { jku: `${evil.url}/jwks.json`, kid: "k1" },
    { x5u: `${evil.url}/x5u.pem` },
    { x5u: `${evil.url}/x5u.pem`, kid: "k1" },
    { jwk: attackerJwk },
    { jwk: { ...attackerJwk, kid: "k1" }, kid: "k1" },
    {
      jku: `${evil.url}/jwks.json`,
      x5u: `${evil.url}/x5u.pem`,
      jwk: attackerJwk,
    },
  ];
  for (const header of headers) {
    const token = await rs256(claims, attacker.privateKey, header);
    for (const name of ["jwks", "remote"] as const) {
      const answer = await attack(bearer(token), name);
      assert.equal(answer.status, 401);
      assert.equal((answer.body as { code: string }).code, "PGRST301");
    }
  }
  // A kid-less jku token names no key: the URL app may refresh its own
  // key set, but never fetches anything the token points at.
  assert.deepEqual(evil.paths, []);
  assert.ok(idp.paths.every((p) => p === "/keys"), idp.paths.join(", "));
});

// ------------------------------------------------------------- claims

test("exp, nbf and iat beyond 30 s of skew are PGRST303", async () => {
  const now = nowSeconds();
  const cases: [Record<string, unknown>, string][] = [
    [{ exp: now - 60 }, "JWT expired"],
    [{ exp: now - 3600 }, "JWT expired"],
    [{ exp: 0 }, "JWT expired"],
    [{ nbf: now + 60 }, "JWT not yet valid"],
    [{ nbf: now + 86_400 * 365 }, "JWT not yet valid"],
    [{ iat: now + 60 }, "JWT issued at future"],
    [{ exp: now + 3600, iat: now + 120 }, "JWT issued at future"],
  ];
  for (const [claims, message] of cases) {
    assertJwtError(
      await attack(bearer(await hs256({ role: "web_user", ...claims }))),
      "PGRST303",
      message,
    );
  }
});

test("time claims within the 30 s skew are accepted", async () => {
  const now = nowSeconds();
  const token = await hs256({
    role: "web_user",
    exp: now - 10,
    nbf: now + 10,
    iat: now + 10,
  });
  const answer = await probe(bearer(token));
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
});

test("non-numeric exp, nbf and iat are PGRST303", async () => {
  const values = ["2000000000", true, { n: 1 }, [1], ""];
  for (const claim of ["exp", "nbf", "iat"]) {
    for (const value of values) {
      assertJwtError(
        await attack(bearer(await hs256({ role: "web_user", [claim]: value }))),
        "PGRST303",
        `The JWT '${claim}' claim must be a number`,
      );
    }
  }
});

test("a wrong or malformed aud is PGRST303", async () => {
  for (const aud of ["https://other.example.test", ["a", "b"], "", [""]]) {
    assertJwtError(
      await attack(bearer(await hs256({ role: "web_user", aud }))),
      "PGRST303",
      "JWT not in audience",
    );
  }
  for (const aud of [1, { aud: AUDIENCE }, [AUDIENCE, 1], true]) {
    assertJwtError(
      await attack(bearer(await hs256({ role: "web_user", aud }))),
      "PGRST303",
      "The JWT 'aud' claim must be a string or an array of strings",
    );
  }
});

// ------------------------------------------------------------ malformed

test("an empty bearer token is PGRST301", async () => {
  for (const header of ["Bearer", "Bearer ", "bearer   ", "BEARER \t"]) {
    assertJwtError(
      await attack(header),
      "PGRST301",
      "Empty JWT is sent in Authorization header",
    );
  }
});

test("a token without three parts is PGRST301 with the count", async () => {
  const valid = await hs256({ role: "web_user" });
  const [h = "", p = "", s = ""] = valid.split(".");
  const cases: [string, number][] = [
    ["abc", 1],
    [`${h}.${p}`, 2],
    [`${h}.${p}.${s}.${s}`, 4],
    [`${h}.${p}.${s}.`, 4],
    [`${valid}.${valid}`, 6],
    ["....", 5],
  ];
  for (const [token, parts] of cases) {
    assertJwtError(
      await attack(bearer(token)),
      "PGRST301",
      `Expected 3 parts in JWT; got ${parts}`,
    );
  }
});

test("bad base64 and bad JSON are PGRST301", async () => {
  const valid = await hs256({ role: "web_user" });
  const [h = "", p = "", s = ""] = valid.split(".");
  const tokens = [
    `${h}=.${p}.${s}`, // padding
    `${h}.${p}=.${s}`,
    `${h}.${p}.${s}==`,
    `${h.slice(0, -1)}*.${p}.${s}`, // outside the alphabet
    `${h}.${p.replaceAll("-", "+")}+/.${s}`, // standard alphabet
    `${h}.${p}.${s}%`,
    `${h}x.${p}.${s}`, // length 4n+1
    `${b64url('{"alg":"HS256"')}.${p}.${s}`, // truncated JSON
    `${b64url('["HS256"]')}.${p}.${s}`, // not an object
    `${b64url('"HS256"')}.${p}.${s}`,
    `${b64url(new Uint8Array([0xff, 0xfe, 0x7b, 0x7d]))}.${p}.${s}`, // not UTF-8
    `${b64url('{"alg":"HS256"}')}.%%%.${s}`,
    `..`,
    `${h}..`,
  ];
  for (const token of tokens) {
    const answer = await attack(bearer(token));
    assert.equal(answer.status, 401, token);
    assert.equal((answer.body as { code: string }).code, "PGRST301", token);
  }
});

test("a signed payload that is not a JSON object is PGRST303", async () => {
  for (const payload of ["[1,2]", '"role"', '{"role":', "null", "x"]) {
    const token = await hmacRaw(JSON.stringify({ alg: "HS256" }), payload);
    assertJwtError(
      await attack(bearer(token)),
      "PGRST303",
      "Parsing claims failed",
    );
  }
});

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

test("a token in a 64 KB header is 431 PGRST153 before the JWT gate", async () => {
  const token = forgedToken(64 * 1024);
  assert.ok(token.length > 64 * 1024 - 8 && token.length <= 64 * 1024);
  const limit = DEFAULT_CONFIG.serverMaxHeaderBytes;
  const answer = await attack(bearer(token));
  assert.equal(answer.status, 431);
  assert.deepEqual(answer.body, {
    code: "PGRST153",
    details: `The request headers must not exceed ${limit} bytes`,
    hint: null,
    message: "Request header fields too large",
  });
});

test("a forged token just under the header limit is PGRST301", async () => {
  const token = forgedToken(DEFAULT_CONFIG.serverMaxHeaderBytes - 1024);
  assertJwtError(
    await attack(bearer(token)),
    "PGRST301",
    "No suitable key or wrong key type",
    "None of the keys was able to decode the JWT",
  );
});

// ------------------------------------------------------------ role claim

test("a role that does not exist is 401 22023", async () => {
  const answer = await attack(bearer(await hs256({ role: "no_such_role" })));
  assert.equal(answer.status, 401);
  assert.deepEqual(answer.body, {
    code: "22023",
    details: null,
    hint: null,
    message: 'role "no_such_role" does not exist',
  });
  assert.equal(answer.challenge, "Bearer");
});

test("the role none, PostgreSQL's RESET ROLE, is a role that does not exist", async () => {
  // Passed to set_config('role', …) it would switch back to the
  // authenticator; pgrest refuses it before the database.
  const answer = await attack(bearer(await hs256({ role: "none" })));
  assert.equal(answer.status, 401);
  assert.deepEqual(answer.body, {
    code: "22023",
    details: null,
    hint: null,
    message: 'role "none" does not exist',
  });
  assert.equal(answer.challenge, "Bearer");
});

test("reserved and odd role names are roles that do not exist", async () => {
  const roles = ["", " ", "NONE", "public", "current_user", "default"];
  for (const role of roles) {
    const answer = await attack(bearer(await hs256({ role })));
    assert.equal(answer.status, 401, `${role}: ${JSON.stringify(answer.body)}`);
    assert.equal(
      (answer.body as { message: string }).message,
      `role "${role}" does not exist`,
    );
  }
  // PostgreSQL cuts names at 63 bytes
  const long = "web_user" + "x".repeat(100);
  const answer = await attack(bearer(await hs256({ role: long })));
  assert.equal(answer.status, 401);
  assert.equal(
    (answer.body as { message: string }).message,
    `role "${long.slice(0, 63)}" does not exist`,
  );
});

test("a role claim with a NUL byte is 400 22021", async () => {
  const answer = await attack(bearer(await hs256({ role: "web_user\u0000x" })));
  assert.equal(answer.status, 400);
  assert.deepEqual(answer.body, {
    code: "22021",
    details: null,
    hint: null,
    message: 'invalid byte sequence for encoding "UTF8": 0x00',
  });
});

test("a role claim naming the authenticator keeps only its own privileges", async () => {
  // As in PostgREST: SET ROLE to the session user is always allowed. The
  // authenticator is NOINHERIT and holds no grant on jwt_sec.
  const authenticator = decodeURIComponent(new URL(uri ?? "").username);
  const answer = await attack(bearer(await hs256({ role: authenticator })));
  assert.equal(answer.status, 403);
  assert.deepEqual(answer.body, {
    code: "42501",
    details: null,
    hint: null,
    message: "permission denied for schema jwt_sec",
  });
});

test("a role the authenticator cannot become is 403 42501", async () => {
  for (const role of ["jwt_sec_outsider", "postgres", "pg_read_all_data"]) {
    const answer = await attack(bearer(await hs256({ role })));
    assert.equal(answer.status, 403, JSON.stringify(answer.body));
    assert.deepEqual(answer.body, {
      code: "42501",
      details: null,
      hint: null,
      message: `permission denied to set role "${role}"`,
    });
    assert.equal(answer.challenge, null);
  }
});

test("a role claim containing SQL is a role that does not exist", async () => {
  const roles = [
    "web_user'; drop table jwt_sec.canary; --",
    'web_user"; drop table jwt_sec.canary; --',
    "web_user; drop table jwt_sec.canary",
    "' or 1=1 --",
    "web_user') , set_config('role', 'postgres', true) --",
    "$$; select pg_sleep(5); $$",
    "web_user\\",
    "WEB_USER",
  ];
  for (const role of roles) {
    const answer = await attack(bearer(await hs256({ role })));
    assert.equal(answer.status, 401, `${role}: ${JSON.stringify(answer.body)}`);
    assert.deepEqual(answer.body, {
      code: "22023",
      details: null,
      hint: null,
      message: `role "${role}" does not exist`,
    });
  }
  const [row] = await db()<{ n: string }[]>`
    select count(*) as n from jwt_sec.canary`;
  assert.equal(row?.n, "1");
});
