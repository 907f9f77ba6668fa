import assert from "node:assert/strict";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { type Config, DEFAULT_CONFIG } from "../config/types.ts";
import { PgrstError } from "../error.ts";
import {
  createAuthenticator,
  type DecodeFailure,
  decodeFailureError,
  extractRole,
  LruCache,
  parseRoleClaimKey,
  signJwt,
  validateClaims,
} from "./jwt.ts";

const SECRET = "reallyreallyreallyreallyverysafe";
const NOW = 1_700_000_000;
const ANON = "postgrest_test_anonymous";
const AUTHOR = "postgrest_test_author";

function config(overrides: Partial<Config> = {}): Config {
  return {
    ...DEFAULT_CONFIG,
    dbAnonRole: ANON,
    jwtSecret: SECRET,
    jwtCacheMaxEntries: 10,
    ...overrides,
  };
}

const enc = new TextEncoder();

function b64url(data: string | Uint8Array): string {
  const bytes = typeof data === "string" ? enc.encode(data) : data;
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** An HMAC-signed token with any header and payload text. */
async function hmacToken(
  header: Record<string, unknown>,
  payload: Record<string, unknown> | string,
  opts: { secret?: Uint8Array | string; hash?: string } = {},
): Promise<string> {
  const secret = opts.secret ?? SECRET;
  const raw = typeof secret === "string" ? enc.encode(secret) : secret;
  const key = await crypto.subtle.importKey(
    "raw",
    new Uint8Array(raw),
    { name: "HMAC", hash: opts.hash ?? "SHA-256" },
    false,
    ["sign"],
  );
  const body = typeof payload === "string" ? payload : JSON.stringify(payload);
  const input = `${b64url(JSON.stringify(header))}.${b64url(body)}`;
  const sig = await crypto.subtle.sign("HMAC", key, enc.encode(input));
  return `${input}.${b64url(new Uint8Array(sig))}`;
}

function hs256(payload: Record<string, unknown>): Promise<string> {
  return hmacToken({ alg: "HS256", typ: "JWT" }, payload);
}

async function auth(
  token: string | null,
  overrides: Partial<Config> = {},
  now = NOW,
) {
  const a = await createAuthenticator(config(overrides));
  return a.authenticate(token === null ? null : `Bearer ${token}`, now);
}

async function rejects(
  p: Promise<unknown>,
  expected: {
    status: number;
    code: string;
    message: string;
    details?: string | null;
    wwwAuthenticate?: string | null;
  },
): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof PgrstError, `not a PgrstError: ${String(e)}`);
    assert.equal(e.message, expected.message);
    assert.equal(e.code, expected.code);
    assert.equal(e.status, expected.status);
    if (expected.details !== undefined) {
      assert.equal(e.details, expected.details);
    }
    if (expected.wwwAuthenticate !== undefined) {
      const h = e.headers.find(([n]) => n === "WWW-Authenticate");
      assert.equal(h?.[1] ?? null, expected.wwwAuthenticate);
    }
    return true;
  });
}

function invalidToken(message: string): string {
  return `Bearer error="invalid_token", error_description="${message}"`;
}

function decodeError(message: string, details: string | null = null) {
  return {
    status: 401,
    code: "PGRST301",
    message,
    details,
    wwwAuthenticate: invalidToken(message),
  };
}

function claimsError(message: string) {
  return {
    status: 401,
    code: "PGRST303",
    message,
    details: null,
    wwwAuthenticate: invalidToken(message),
  };
}

const NO_KEY = decodeError(
  "No suitable key or wrong key type",
  "No suitable key was found to decode the JWT",
);
const WRONG_KEY = decodeError(
  "No suitable key or wrong key type",
  "None of the keys was able to decode the JWT",
);
const BAD_CRYPTO = decodeError("JWT cryptographic operation failed");

// ------------------------------------------------------------ header

Deno.test("authenticate() without a header runs as the anonymous role", async () => {
  const r = await auth(null);
  assert.deepEqual(r, { role: ANON, claims: {}, authenticated: false });
});

Deno.test("authenticate() without a header and without anon role is PGRST302", async () => {
  await rejects(auth(null, { dbAnonRole: null }), {
    status: 401,
    code: "PGRST302",
    message: "Anonymous access is disabled",
    wwwAuthenticate: "Bearer",
  });
});

Deno.test("anonymous() gives what authenticate() gives without a header, and PGRST302 without anon role", async () => {
  const a = await createAuthenticator(config());
  assert.deepEqual(a.anonymous?.(), await a.authenticate(null, NOW));
  assert.deepEqual(a.anonymous?.(), {
    role: ANON,
    claims: {},
    authenticated: false,
  });
  const none = await createAuthenticator(config({ dbAnonRole: null }));
  assert.throws(
    () => none.anonymous?.(),
    (e: unknown) =>
      e instanceof PgrstError && e.code === "PGRST302" && e.status === 401,
  );
});

Deno.test("authenticate() treats other schemes as no token", async () => {
  const a = await createAuthenticator(config());
  for (
    const h of ["Basic dXNlcjpwYXNz", "", "Token abc.def.ghi", "Bearerx y"]
  ) {
    assert.deepEqual(await a.authenticate(h, NOW), {
      role: ANON,
      claims: {},
      authenticated: false,
    });
  }
});

Deno.test("authenticate() accepts the Bearer scheme in any casing", async () => {
  const a = await createAuthenticator(config());
  const t = await hs256({ role: AUTHOR });
  for (const scheme of ["Bearer", "bearer", "BEARER", "bEaReR"]) {
    const r = await a.authenticate(`${scheme} ${t}`, NOW);
    assert.equal(r.role, AUTHOR);
    assert.equal(r.authenticated, true);
  }
  assert.equal((await a.authenticate(`Bearer   ${t}`, NOW)).role, AUTHOR);
});

Deno.test("authenticate() rejects an empty token with PostgREST's message", async () => {
  const a = await createAuthenticator(config());
  const expected = decodeError("Empty JWT is sent in Authorization header");
  await rejects(a.authenticate("Bearer ", NOW), expected);
  await rejects(a.authenticate("Bearer", NOW), expected);
  await rejects(a.authenticate("bearer    ", NOW), expected);
});

Deno.test("authenticate() with a token but no secret is PGRST300", async () => {
  const expected = {
    status: 500,
    code: "PGRST300",
    message: "Server lacks JWT secret",
  };
  await rejects(
    auth(await hs256({ role: AUTHOR }), { jwtSecret: null }),
    expected,
  );
  await rejects(auth("", { jwtSecret: null }), expected);
  assert.equal((await auth(null, { jwtSecret: null })).role, ANON);
});

// ------------------------------------------------------------ decoding

Deno.test("authenticate() counts the parts of the token", async () => {
  await rejects(
    auth("ey9zdGdyZXN0X3Rlc3RfYXV0aG9yIiwiaWQiOiJqZG9lIn0.y4vZuu1dDdwAl0"),
    decodeError("Expected 3 parts in JWT; got 2"),
  );
  await rejects(auth("abc"), decodeError("Expected 3 parts in JWT; got 1"));
  await rejects(
    auth("a.b.c.d.e"),
    decodeError("Expected 3 parts in JWT; got 5"),
  );
});

Deno.test("authenticate() reports malformed tokens as a cryptographic failure", async () => {
  await rejects(
    auth("quifquirndsjagnrgniur.fonvoienqhhdj.iuqvnvhojah"),
    BAD_CRYPTO,
  );
  await rejects(auth(".."), BAD_CRYPTO);
  const good = await hs256({ role: AUTHOR });
  const [h, p, s] = good.split(".");
  await rejects(auth(`${h}=.${p}.${s}`), BAD_CRYPTO);
  await rejects(auth(`${h}.${p}!.${s}`), BAD_CRYPTO);
  await rejects(auth(`${h}.${p}.${s} `), BAD_CRYPTO);
  await rejects(auth(`${b64url("[1]")}.${p}.${s}`), BAD_CRYPTO);
  await rejects(auth(`${b64url('{"alg":5}')}.${p}.${s}`), BAD_CRYPTO);
  await rejects(
    auth(await hmacToken({ alg: "HS1" }, { role: AUTHOR })),
    BAD_CRYPTO,
  );
  await rejects(
    auth(await hmacToken({ alg: "HS256", kid: 7 }, { role: AUTHOR })),
    BAD_CRYPTO,
  );
});

Deno.test("authenticate() rejects alg none in any casing", async () => {
  const expected = decodeError(
    "Wrong or unsupported encoding algorithm",
    "JWT is unsecured but expected 'alg' was not 'none'",
  );
  // ErrorSpec's token: {"typ":"JWT","alg":"none"}.{} with a stray signature
  await rejects(
    auth(
      "eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.e30.yOBhlOIqn56T-4NvyEXCjfi3UmyQZ-BzXtePMO2NgRI",
    ),
    expected,
  );
  for (const alg of ["none", "None", "NONE", "nOnE"]) {
    const payload = b64url(JSON.stringify({ role: AUTHOR }));
    await rejects(
      auth(`${b64url(JSON.stringify({ alg }))}.${payload}.`),
      expected,
    );
  }
});

Deno.test("authenticate() rejects a token signed with the wrong secret", async () => {
  await rejects(
    auth(
      "eyJhbGciOiJIUzI1NiJ9.e30.zSUQ-4HnMGMXFzA7JjwLhgiTqXQ1lWIHC-wTRnUfoQE",
    ),
    WRONG_KEY,
  );
  const other = await hmacToken({ alg: "HS256" }, { role: AUTHOR }, {
    secret: "another-secret-another-secret-another-secret",
  });
  await rejects(auth(other), WRONG_KEY);
  const good = await hs256({ role: AUTHOR });
  const [h, , s] = good.split(".");
  await rejects(auth(`${h}.${b64url('{"role":"postgres"}')}.${s}`), WRONG_KEY);
});

Deno.test("authenticate() rejects unknown critical header parameters", async () => {
  await rejects(
    auth(await hmacToken({ alg: "HS256", crit: ["exp"] }, { role: AUTHOR })),
    decodeError("Unsupported token type"),
  );
});

Deno.test("authenticate() reports a payload that is not a JSON object", async () => {
  const expected = claimsError("Parsing claims failed");
  await rejects(auth(await hmacToken({ alg: "HS256" }, "[1,2]")), expected);
  await rejects(auth(await hmacToken({ alg: "HS256" }, "not json")), expected);
  await rejects(auth(await hmacToken({ alg: "HS256" }, "")), expected);
  await rejects(auth(await hmacToken({ alg: "HS256" }, "null")), expected);
});

Deno.test("decodeFailureError() maps every failure to PostgREST's message", () => {
  const cases: readonly [DecodeFailure, string, string | null][] = [
    [
      { kind: "emptyAuthHeader" },
      "Empty JWT is sent in Authorization header",
      null,
    ],
    [
      { kind: "unexpectedParts", parts: 4 },
      "Expected 3 parts in JWT; got 4",
      null,
    ],
    [
      { kind: "keyError", details: "d1" },
      "No suitable key or wrong key type",
      "d1",
    ],
    [
      { kind: "badAlgorithm", details: "d2" },
      "Wrong or unsupported encoding algorithm",
      "d2",
    ],
    [{ kind: "badCrypto" }, "JWT cryptographic operation failed", null],
    [{ kind: "unsupportedTokenType" }, "Unsupported token type", null],
    [{ kind: "unreachable" }, "JWT couldn't be decoded", null],
  ];
  for (const [failure, message, details] of cases) {
    const e = decodeFailureError(failure);
    assert.equal(e.status, 401);
    assert.equal(e.code, "PGRST301");
    assert.equal(e.message, message);
    assert.equal(e.details, details);
    assert.equal(e.hint, null);
    assert.deepEqual(e.headers, [["WWW-Authenticate", invalidToken(message)]]);
  }
});

// ------------------------------------------------------------ HMAC keys

Deno.test("authenticate() verifies HS256, HS384 and HS512", async () => {
  const algs: readonly (readonly [string, string])[] = [
    ["HS256", "SHA-256"],
    ["HS384", "SHA-384"],
    ["HS512", "SHA-512"],
  ];
  for (const [alg, hash] of algs) {
    const t = await hmacToken({ alg }, { role: AUTHOR, id: "jdoe" }, { hash });
    const r = await auth(t);
    assert.deepEqual(r, {
      role: AUTHOR,
      claims: { role: AUTHOR, id: "jdoe" },
      authenticated: true,
    });
  }
});

Deno.test("authenticate() accepts PostgREST's fixed test tokens", async () => {
  const r = await auth(
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJleHAiOjk5OTk5OTk5OTksInJvbGUiOiJwb3N0Z3Jlc3RfdGVzdF9hdXRob3IiLCJpZCI6Impkb2UifQ.Dpss-QoLYjec5OTsOaAc3FNVsSjA89wACoV-0ra3ClA",
  );
  assert.equal(r.role, AUTHOR);
  assert.deepEqual(r.claims, { exp: 9999999999, role: AUTHOR, id: "jdoe" });
  await rejects(
    auth(
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJleHAiOjE0NDY2NzgxNDksInJvbGUiOiJwb3N0Z3Jlc3RfdGVzdF9hdXRob3IiLCJpZCI6Impkb2UifQ.f8__E6VQwYcDqwHmr9PG03uaZn8Zh1b0vbJ9DYS0AdM",
    ),
    claimsError("JWT expired"),
  );
});

Deno.test("authenticate() decodes a base64 secret, URL-safe alphabet included", async () => {
  const raw = new Uint8Array(48).map((_, i) => (i * 37 + 250) % 256);
  const b64 = btoa(String.fromCharCode(...raw));
  const t = await hmacToken({ alg: "HS256" }, { role: AUTHOR }, {
    secret: raw,
  });
  for (
    const secret of [
      b64,
      b64.replaceAll("=", ""),
      ` ${
        b64.replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", ".")
      }\n`,
    ]
  ) {
    const r = await auth(t, { jwtSecret: secret, jwtSecretIsBase64: true });
    assert.equal(r.role, AUTHOR);
  }
  // the same text taken literally is another key
  await rejects(auth(t, { jwtSecret: b64 }), WRONG_KEY);
});

Deno.test("createAuthenticator() accepts short secrets and rejects undecodable ones", async () => {
  // short secrets only warn at configuration time (see src/config)
  await createAuthenticator(config({ jwtSecret: "short-secret" }));
  await assert.rejects(
    createAuthenticator(
      config({ jwtSecret: "not base64!!", jwtSecretIsBase64: true }),
    ),
    /not valid base64/,
  );
  await createAuthenticator(
    config({ jwtSecret: btoa("too short"), jwtSecretIsBase64: true }),
  );
});

Deno.test("authenticate() accepts an oct JWK and honours its alg", async () => {
  const k = b64url(SECRET);
  const jwk = JSON.stringify({ kty: "oct", k, alg: "HS384" });
  const t384 = await hmacToken({ alg: "HS384" }, { role: AUTHOR }, {
    hash: "SHA-384",
  });
  assert.equal((await auth(t384, { jwtSecret: jwk })).role, AUTHOR);
  await rejects(
    auth(await hs256({ role: AUTHOR }), { jwtSecret: jwk }),
    NO_KEY,
  );
});

// ------------------------------------------------------------ asymmetric keys

async function keyPair(
  alg: string,
): Promise<{ privateKey: CryptoKey; publicJwk: JWK }> {
  const { publicKey, privateKey } = await generateKeyPair(alg, {
    extractable: true,
  });
  return { privateKey, publicJwk: await exportJWK(publicKey) };
}

function sign(
  privateKey: CryptoKey,
  header: { alg: string; kid?: string },
  claims: Record<string, unknown>,
): Promise<string> {
  return new SignJWT(claims).setProtectedHeader(header).sign(privateKey);
}

Deno.test("authenticate() verifies RS256 with a JWK and with a JWKS", async () => {
  const { privateKey, publicJwk } = await keyPair("RS256");
  const t = await sign(privateKey, { alg: "RS256" }, { role: AUTHOR });
  const jwk = JSON.stringify({ ...publicJwk, alg: "RS256", use: "sig" });
  assert.equal((await auth(t, { jwtSecret: jwk })).role, AUTHOR);
  const jwks = JSON.stringify({ keys: [publicJwk] });
  assert.equal((await auth(t, { jwtSecret: jwks })).role, AUTHOR);
});

Deno.test("authenticate() accepts AsymmetricJwtSpec's RS256 token", async () => {
  const jwk = JSON.stringify({
    alg: "RS256",
    e: "AQAB",
    key_ops: ["verify"],
    kty: "RSA",
    n: "0etQ2Tg187jb04MWfpuogYGV75IFrQQBxQaGH75eq_FpbkyoLcEpRUEWSbECP2eeFya2yZ9vIO5ScD-lPmovePk4Aa4SzZ8jdjhmAbNykleRPCxMg0481kz6PQhnHRUv3nF5WP479CnObJKqTVdEagVL66oxnX9VhZG9IZA7k0Th5PfKQwrKGyUeTGczpOjaPqbxlunP73j9AfnAt4XCS8epa-n3WGz1j-wfpr_ys57Aq-zBCfqP67UYzNpeI1AoXsJhD9xSDOzvJgFRvc3vm2wjAW4LEMwi48rCplamOpZToIHEPIaPzpveYQwDnB1HFTR1ove9bpKJsHmi-e2uzQ",
    use: "sig",
  });
  const token =
    "eyJhbGciOiJSUzI1NiJ9.eyJyb2xlIjogInBvc3RncmVzdF90ZXN0X2F1dGhvciJ9Cg.CBOYWDvqgAR0YYnZnyDGTQi6AJLc2Pds6_eV3YuBG6I36mj_h05eLhkEKNEDA5ZteMzCiY83P60rC_xtxVd7B6vo3BeF5uoanPS3rrbuHzKPwzsrgrD_CqvEuJ4n7Q9epkQiLsNkcexneENZDRqFjbwZx3DrXiCWwlK3Ytr5NAIGxmy0od-0xNpb2U1nXQyO_Q3mumWFViRt4tmFn_3goDHNKG3Ha_AzImfUNvHnWL78kAc4rbn15vLtWXD8PwtSnZaB4lY4V6RfsaW937srQsmRetvytM1i_bHBnjkjQLAqGbXPyItjtlXPs0uGNBadE8-wgkLtfmSCC4v2DjUthw";
  assert.equal((await auth(token, { jwtSecret: jwk })).role, AUTHOR);
  assert.equal(
    (await auth(token, { jwtSecret: `{"keys": [${jwk}]}` })).role,
    AUTHOR,
  );
});

Deno.test("authenticate() verifies PS256, ES256, ES384 and EdDSA", async () => {
  for (const alg of ["PS256", "ES256", "ES384", "EdDSA"]) {
    const { privateKey, publicJwk } = await keyPair(alg);
    const t = await sign(privateKey, { alg }, { role: AUTHOR });
    const r = await auth(t, { jwtSecret: JSON.stringify(publicJwk) });
    assert.equal(r.role, AUTHOR, alg);
    const other = await keyPair(alg);
    await rejects(
      auth(t, { jwtSecret: JSON.stringify(other.publicJwk) }),
      WRONG_KEY,
    );
  }
});

Deno.test("authenticate() imports only the public half of a private JWK", async () => {
  const { privateKey } = await generateKeyPair("ES256", {
    extractable: true,
  });
  const privateJwk = await exportJWK(privateKey);
  assert.ok(privateJwk.d !== undefined);
  const t = await sign(privateKey, { alg: "ES256" }, { role: AUTHOR });
  assert.equal(
    (await auth(t, { jwtSecret: JSON.stringify(privateJwk) })).role,
    AUTHOR,
  );
});

Deno.test("authenticate() never accepts HS256 signed with an RSA public key", async () => {
  const { publicJwk } = await keyPair("RS256");
  const secret = JSON.stringify(publicJwk);
  // the classic confusion: HMAC keyed with the public key's text or modulus
  for (const keyText of [secret, publicJwk.n ?? ""]) {
    const t = await hmacToken({ alg: "HS256" }, { role: "postgres" }, {
      secret: keyText,
    });
    await rejects(auth(t, { jwtSecret: secret }), NO_KEY);
    await rejects(
      auth(t, { jwtSecret: JSON.stringify({ keys: [publicJwk] }) }),
      NO_KEY,
    );
  }
});

Deno.test("authenticate() pins the algorithm to the key type and the JWK alg", async () => {
  const { privateKey, publicJwk } = await keyPair("RS256");
  const pinned = JSON.stringify({ ...publicJwk, alg: "RS256" });
  const ps = await new SignJWT({ role: AUTHOR }).setProtectedHeader({
    alg: "PS256",
  })
    .sign(await toPss(privateKey));
  await rejects(auth(ps, { jwtSecret: pinned }), NO_KEY);
  assert.equal(
    (await auth(ps, { jwtSecret: JSON.stringify(publicJwk) })).role,
    AUTHOR,
  );
  const es = await keyPair("ES256");
  const esToken = await sign(es.privateKey, { alg: "ES256" }, { role: AUTHOR });
  await rejects(auth(esToken, { jwtSecret: pinned }), NO_KEY);
  await rejects(auth(esToken), NO_KEY);
});

async function toPss(rsaKey: CryptoKey): Promise<CryptoKey> {
  const jwk = await crypto.subtle.exportKey("jwk", rsaKey);
  delete jwk.alg;
  return crypto.subtle.importKey(
    "jwk",
    jwk,
    { name: "RSA-PSS", hash: "SHA-256" },
    true,
    ["sign"],
  );
}

Deno.test("authenticate() selects JWKS keys by kid and skips encryption keys", async () => {
  const a = await keyPair("RS256");
  const b = await keyPair("RS256");
  const jwks = JSON.stringify({
    keys: [
      { kty: "RSA", n: "xyz", e: "AQAB", use: "enc", kid: "enc" },
      { kty: "EC", crv: "secp256k1", x: "AA", y: "AA", kid: "k1" },
      { ...a.publicJwk, kid: "a" },
      { ...b.publicJwk, kid: "b" },
    ],
  });
  const byKid = await sign(b.privateKey, { alg: "RS256", kid: "b" }, {
    role: AUTHOR,
  });
  assert.equal((await auth(byKid, { jwtSecret: jwks })).role, AUTHOR);
  const noKid = await sign(b.privateKey, { alg: "RS256" }, { role: AUTHOR });
  assert.equal((await auth(noKid, { jwtSecret: jwks })).role, AUTHOR);
  const wrongKid = await sign(b.privateKey, { alg: "RS256", kid: "a" }, {
    role: AUTHOR,
  });
  await rejects(auth(wrongKid, { jwtSecret: jwks }), WRONG_KEY);
  const unknownKid = await sign(b.privateKey, { alg: "RS256", kid: "zz" }, {
    role: AUTHOR,
  });
  await rejects(auth(unknownKid, { jwtSecret: jwks }), NO_KEY);
  // a kid in the token needs a key with that kid, as jose-jwt's keyIdCompatible
  await rejects(
    auth(await hmacToken({ alg: "HS256", kid: "x" }, { role: AUTHOR })),
    NO_KEY,
  );
});

Deno.test("createAuthenticator() rejects unusable JWKs and JWKS", async () => {
  const bad: readonly [string, RegExp][] = [
    [JSON.stringify({ kty: "RSA", e: "AQAB" }), /lacks "n"/],
    [
      JSON.stringify({ kty: "RSA", n: "AQAB", e: "AQAB", use: "enc" }),
      /unsupported JWK/,
    ],
    [JSON.stringify({ kty: "oct", k: "" }), /empty or invalid "k"/],
    [
      JSON.stringify({ kty: "EC", crv: "P-256", x: "AA", y: "AA" }),
      /cannot import/,
    ],
    [JSON.stringify({ kty: "RSA", n: "AQAB", e: "AQAB" }), /cannot import/],
    [JSON.stringify({ kty: "OKP", crv: "Ed25519", x: "AA" }), /cannot import/],
    [JSON.stringify({ kty: "OKP", crv: "X25519", x: "AA" }), /unsupported JWK/],
    [JSON.stringify({ kty: "OKP", crv: "Ed448", x: "AA" }), /unsupported JWK/],
    [JSON.stringify({ keys: [] }), /no key that can verify/],
    [
      JSON.stringify({
        keys: [{ kty: "RSA", n: "AQAB", e: "AQAB", alg: "RSA-OAEP" }],
      }),
      /no key/,
    ],
  ];
  for (const [jwtSecret, re] of bad) {
    await assert.rejects(
      createAuthenticator(config({ jwtSecret })),
      re,
      jwtSecret,
    );
  }
});

// ------------------------------------------------------------ claims

Deno.test("validateClaims() allows 30 seconds of skew on exp", () => {
  validateClaims({ exp: NOW - 29 }, NOW);
  validateClaims({ exp: NOW - 30 }, NOW);
  validateClaims({ exp: NOW - 30 }, NOW + 0.9);
  assert.throws(() => validateClaims({ exp: NOW - 31 }, NOW), {
    message: "JWT expired",
  });
});

Deno.test("validateClaims() allows 30 seconds of skew on nbf and iat", () => {
  validateClaims({ nbf: NOW + 30, iat: NOW + 30 }, NOW);
  assert.throws(() => validateClaims({ nbf: NOW + 31 }, NOW), {
    message: "JWT not yet valid",
  });
  assert.throws(() => validateClaims({ iat: NOW + 31 }, NOW), {
    message: "JWT issued at future",
  });
});

Deno.test("validateClaims() treats null as absent and odd numbers as 0", () => {
  validateClaims({ exp: null, nbf: null, iat: null, aud: null }, NOW, {
    audience: "x",
  });
  assert.throws(() => validateClaims({ exp: 9999999999.5 }, NOW), {
    message: "JWT expired",
  });
  assert.throws(() => validateClaims({ exp: 1e300 }, NOW), {
    message: "JWT expired",
  });
  validateClaims({ nbf: 1e300, iat: 1.5 }, NOW);
});

Deno.test("validateClaims() checks exp, nbf, iat, then aud", () => {
  assert.throws(
    () => validateClaims({ aud: 1, iat: "x", nbf: "x", exp: "x" }, NOW),
    { message: "The JWT 'exp' claim must be a number" },
  );
  assert.throws(
    () => validateClaims({ aud: 1, iat: "x", nbf: "x" }, NOW),
    {
      message: "The JWT 'nbf' claim must be a number",
    },
  );
  assert.throws(() => validateClaims({ aud: 1, iat: "x" }, NOW), {
    message: "The JWT 'iat' claim must be a number",
  });
  assert.throws(
    () => validateClaims({ aud: "b", exp: 1 }, NOW, { audience: "a" }),
    {
      message: "JWT expired",
    },
  );
});

Deno.test("validateClaims() checks the type of aud even without jwt-aud", () => {
  const message = "The JWT 'aud' claim must be a string or an array of strings";
  for (const aud of [1, true, { a: "b" }, [{ a: "b" }, "test"], ["a", null]]) {
    assert.throws(() => validateClaims({ aud }, NOW), { message });
  }
  validateClaims({ aud: "anything" }, NOW);
  validateClaims({ aud: ["a", "b"] }, NOW);
});

Deno.test("validateClaims() matches aud against jwt-aud", () => {
  const message = "JWT not in audience";
  validateClaims({ aud: "youraudience" }, NOW, { audience: "youraudience" });
  validateClaims({ aud: ["no", "youraudience"] }, NOW, {
    audience: "youraudience",
  });
  validateClaims({ aud: [] }, NOW, { audience: "youraudience" });
  validateClaims({}, NOW, { audience: "youraudience" });
  for (const aud of ["notyouraudience", "", ["no"], ["no", "still"]]) {
    assert.throws(
      () => validateClaims({ aud }, NOW, { audience: "youraudience" }),
      {
        message,
      },
    );
  }
});

Deno.test("authenticate() reports claim errors with PGRST303 and the header", async () => {
  const t = hs256;
  await rejects(auth(await t({ exp: NOW - 31 })), claimsError("JWT expired"));
  await rejects(
    auth(await t({ nbf: NOW + 31 })),
    claimsError("JWT not yet valid"),
  );
  await rejects(
    auth(await t({ iat: NOW + 31 })),
    claimsError("JWT issued at future"),
  );
  await rejects(
    auth(await t({ aud: "other" }), { jwtAud: "youraudience" }),
    claimsError("JWT not in audience"),
  );
  for (const k of ["exp", "nbf", "iat"]) {
    await rejects(
      auth(await t({ [k]: "invalid" })),
      claimsError(`The JWT '${k}' claim must be a number`),
    );
  }
  await rejects(
    auth(await t({ aud: { invalid: "value" } })),
    claimsError("The JWT 'aud' claim must be a string or an array of strings"),
  );
  assert.equal(
    (await auth(await t({ exp: NOW - 29, role: AUTHOR }))).role,
    AUTHOR,
  );
  assert.equal(
    (await auth(await t({ aud: ["x", "youraudience"], role: AUTHOR }), {
      jwtAud: "youraudience",
    })).role,
    AUTHOR,
  );
  assert.equal(
    (await auth(await t({ role: AUTHOR }), { jwtAud: "youraudience" })).role,
    AUTHOR,
  );
});

// ------------------------------------------------------------ role

Deno.test("authenticate() without a role claim runs as anon with the claims", async () => {
  const r = await auth(await hs256({ id: "jdoe" }));
  assert.deepEqual(r, {
    role: ANON,
    claims: { id: "jdoe" },
    authenticated: true,
  });
  const empty = await auth(
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.CUIP5V9thWsGGFsFyGijSZf1fJMfarLHI9CEJL-TGNk",
  );
  assert.deepEqual(empty, { role: ANON, claims: {}, authenticated: true });
});

Deno.test("authenticate() with a non-string role runs as anon", async () => {
  for (const role of [5, null, ["a"], { r: 1 }, true]) {
    const r = await auth(await hs256({ role }));
    assert.equal(r.role, ANON);
    assert.deepEqual(r.claims, { role });
  }
});

Deno.test("authenticate() without a role claim and without anon role is PGRST302", async () => {
  await rejects(auth(await hs256({ id: "jdoe" }), { dbAnonRole: null }), {
    status: 401,
    code: "PGRST302",
    message: "Anonymous access is disabled",
    wwwAuthenticate: "Bearer",
  });
  const r = await auth(await hs256({ role: AUTHOR }), { dbAnonRole: null });
  assert.equal(r.role, AUTHOR);
});

Deno.test("authenticate() refuses the role none, which would reset to the authenticator", async () => {
  await rejects(auth(await hs256({ role: "none" })), {
    status: 401,
    code: "22023",
    message: 'role "none" does not exist',
    wwwAuthenticate: "Bearer",
  });
  // only the exact spelling is special to PostgreSQL
  assert.equal((await auth(await hs256({ role: "None" }))).role, "None");
});

Deno.test("authenticate() follows jwt-role-claim-key", async () => {
  const claims = {
    realm_access: { roles: ["offline_access", "client_admin"] },
    "https://x.io/claims": { roles: ["web_user"] },
  };
  const t = await hs256(claims);
  const role = async (jwtRoleClaimKey: string) =>
    (await auth(t, { jwtRoleClaimKey })).role;
  assert.equal(
    await role('.realm_access.roles[?(@ == "client_admin")]'),
    "client_admin",
  );
  assert.equal(
    await role('.realm_access.roles[?(@ ^== "client_")][7:]'),
    "admin",
  );
  assert.equal(await role('."https://x.io/claims".roles[0]'), "web_user");
  assert.equal(await role(".realm_access.roles[5]"), ANON);
  assert.equal(await role(".role"), ANON);
  assert.equal(await role(""), ANON);
  assert.equal(
    extractRole(claims, parseRoleClaimKey(".realm_access.roles[1]")),
    "client_admin",
  );
});

Deno.test("createAuthenticator() rejects an invalid jwt-role-claim-key", async () => {
  await assert.rejects(
    createAuthenticator(config({ jwtRoleClaimKey: "role" })),
    /jwt-role-claim-key/,
  );
  await assert.rejects(
    createAuthenticator(config({ jwtRoleClaimKey: '.roles[?(@ = "x")]' })),
    /jwt-role-claim-key/,
  );
});

Deno.test("authenticate() returns frozen claims", async () => {
  const r = await auth(await hs256({ role: AUTHOR, nested: { a: [1] } }));
  assert.ok(Object.isFrozen(r.claims));
  assert.ok(Object.isFrozen(r.claims["nested"]));
});

// ------------------------------------------------------------ cache

Deno.test("LruCache evicts the least recently used entry", () => {
  const c = new LruCache<string, number>(2);
  c.set("a", 1);
  c.set("b", 2);
  assert.equal(c.get("a"), 1);
  c.set("c", 3);
  assert.equal(c.size, 2);
  assert.equal(c.get("b"), undefined);
  assert.equal(c.get("a"), 1);
  assert.equal(c.get("c"), 3);
  c.set("c", 4);
  assert.equal(c.size, 2);
  assert.equal(c.get("c"), 4);
  const off = new LruCache<string, number>(0);
  off.set("a", 1);
  assert.equal(off.size, 0);
  assert.equal(off.get("a"), undefined);
});

Deno.test("authenticate() keeps at most jwt-cache-max-entries tokens", async () => {
  const a = await createAuthenticator(config({ jwtCacheMaxEntries: 2 }));
  for (let i = 0; i < 5; i++) {
    const r = await a.authenticate(
      `Bearer ${await hs256({ role: AUTHOR, i })}`,
      NOW,
    );
    assert.equal(r.claims["i"], i);
  }
  assert.equal(a.cacheSize, 2);
  const off = await createAuthenticator(config({ jwtCacheMaxEntries: 0 }));
  const t = await hs256({ role: AUTHOR });
  assert.equal((await off.authenticate(`Bearer ${t}`, NOW)).role, AUTHOR);
  assert.equal((await off.authenticate(`Bearer ${t}`, NOW)).role, AUTHOR);
  assert.equal(off.cacheSize, 0);
});

Deno.test("authenticate() rechecks a cached token against the clock", async () => {
  const a = await createAuthenticator(config());
  const t = `Bearer ${await hs256({ role: AUTHOR, exp: NOW + 100, nbf: NOW })}`;
  assert.equal((await a.authenticate(t, NOW)).role, AUTHOR);
  assert.equal(a.cacheSize, 1);
  assert.equal((await a.authenticate(t, NOW + 130)).role, AUTHOR);
  await rejects(a.authenticate(t, NOW + 131), claimsError("JWT expired"));
  await rejects(a.authenticate(t, NOW - 31), claimsError("JWT not yet valid"));
  assert.equal(a.cacheSize, 1);
});

Deno.test("authenticate() caches only tokens that verify", async () => {
  const a = await createAuthenticator(config());
  const good = await hs256({ role: AUTHOR });
  const [h, p] = good.split(".");
  await rejects(a.authenticate(`Bearer ${h}.${p}.AAAA`, NOW), WRONG_KEY);
  await rejects(
    a.authenticate(`Bearer ${await hmacToken({ alg: "HS256" }, "[]")}`, NOW),
    claimsError("Parsing claims failed"),
  );
  assert.equal(a.cacheSize, 0);
  // a token whose claims fail validation is cached, but checked every time
  const expired = `Bearer ${await hs256({ exp: NOW - 100 })}`;
  await rejects(a.authenticate(expired, NOW), claimsError("JWT expired"));
  await rejects(a.authenticate(expired, NOW), claimsError("JWT expired"));
});

// ------------------------------------------------------------ signing

Deno.test("signJwt() signs HS256 tokens that authenticate() accepts", async () => {
  const cfg = config();
  const token = await signJwt({ role: AUTHOR, exp: NOW + 60 }, cfg);
  const [h] = token.split(".");
  assert.equal(atob(h ?? ""), '{"alg":"HS256","typ":"JWT"}');
  const a = await createAuthenticator(cfg);
  const r = await a.authenticate(`Bearer ${token}`, NOW);
  assert.deepEqual(r.claims, { role: AUTHOR, exp: NOW + 60 });
});

Deno.test("signJwt() uses a base64 secret and an oct JWK", async () => {
  const raw = new Uint8Array(32).map((_, i) => 255 - i);
  const b64 = btoa(String.fromCharCode(...raw));
  for (
    const cfg of [
      config({ jwtSecret: b64, jwtSecretIsBase64: true }),
      config({ jwtSecret: JSON.stringify({ kty: "oct", k: b64url(raw) }) }),
      config({
        jwtSecret: JSON.stringify({
          keys: [{ kty: "oct", k: b64url(raw), alg: "HS256" }],
        }),
      }),
    ]
  ) {
    const token = await signJwt({ role: AUTHOR }, cfg);
    const a = await createAuthenticator(cfg);
    assert.equal((await a.authenticate(`Bearer ${token}`, NOW)).role, AUTHOR);
  }
});

Deno.test("signJwt() refuses without an HMAC secret", async () => {
  const { publicJwk } = await keyPair("RS256");
  await rejects(
    signJwt(
      { role: AUTHOR },
      config({ jwtSecret: JSON.stringify(publicJwk) }),
    ),
    {
      status: 500,
      code: "PGRST300",
      message: "Server lacks JWT secret",
      details:
        "Signing a JWT needs an HMAC secret (HS256), but jwt-secret holds only asymmetric keys",
    },
  );
  await rejects(signJwt({ role: AUTHOR }, config({ jwtSecret: null })), {
    status: 500,
    code: "PGRST300",
    message: "Server lacks JWT secret",
  });
});
