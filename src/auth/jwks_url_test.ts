/**
 * Tests keys from an identity provider ({@linkcode createAuthenticator} with
 * a key URL): a local JWKS and OpenID discovery server on 127.0.0.1, an
 * injected fetch that counts requests, and an injected clock.
 *
 * @module
 */

import assert from "node:assert/strict";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { ConfigError, parseConfig } from "../config/config.ts";
import { type Config, DEFAULT_CONFIG, type LogLevel } from "../config/types.ts";
import { PgrstError } from "../error.ts";
import { keySetUrl } from "./jwks_url.ts";
import {
  type AuthenticatorOptions,
  createAuthenticator,
  type JwtAuthenticator,
  signJwt,
} from "./jwt.ts";

const ANON = "web_anon";
const NOW_S = Math.floor(Date.now() / 1000);
const T0 = 1_700_000_000_000;

// ------------------------------------------------------------------ keys

interface SigningKey {
  readonly kid: string;
  readonly alg: "RS256" | "ES256";
  readonly privateKey: CryptoKey;
  readonly jwk: JWK;
}

async function signingKey(
  kid: string,
  alg: "RS256" | "ES256",
): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg);
  const jwk = { ...await exportJWK(publicKey), kid, alg, use: "sig" };
  return { kid, alg, privateKey, jwk };
}

const RSA_A = await signingKey("rsa-a", "RS256");
const EC_A = await signingKey("ec-a", "ES256");
const RSA_B = await signingKey("rsa-b", "RS256");
const ATTACKER = await signingKey("attacker", "RS256");

function token(
  key: SigningKey,
  claims: Record<string, unknown> = { role: "author" },
  header: Record<string, unknown> = {},
): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ ...header, alg: key.alg, kid: key.kid })
    .sign(key.privateKey);
}

// ---------------------------------------------------------------- server

/** A local identity provider whose JWKS and answers the tests change. */
class Provider {
  jwks: { keys: unknown[] } = { keys: [RSA_A.jwk, EC_A.jwk] };
  /** Status code for every path when set (a failing provider). */
  failWith: number | null = null;
  readonly hits = new Map<string, number>();
  #server: Deno.HttpServer<Deno.NetAddr> | null = null;
  port = 0;

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  hitsOf(path: string): number {
    return this.hits.get(path) ?? 0;
  }

  start(port = 0): void {
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port, onListen: () => {} },
      (req) => this.#handle(req),
    );
    this.port = this.#server.addr.port;
  }

  async stop(): Promise<void> {
    await this.#server?.shutdown();
    this.#server = null;
  }

  #handle(req: Request): Response {
    const path = new URL(req.url).pathname;
    this.hits.set(path, this.hitsOf(path) + 1);
    if (this.failWith !== null) {
      return new Response("unavailable", { status: this.failWith });
    }
    switch (path) {
      case "/jwks.json":
      case "/idp/keys":
        return Response.json(this.jwks);
      case "/idp":
        return new Response("<html>an issuer page</html>", {
          headers: { "content-type": "text/html" },
        });
      case "/idp/.well-known/openid-configuration":
        return Response.json({
          issuer: `${this.base}/idp`,
          jwks_uri: `${this.base}/idp/keys`,
          response_types_supported: ["code"],
        });
      default:
        return new Response("not found", { status: 404 });
    }
  }
}

/** A fetch that records every URL it is asked for. */
function countingFetch(): { fetch: typeof fetch; urls: string[] } {
  const urls: string[] = [];
  function counted(
    input: string | URL | Request,
    init?: RequestInit,
  ): Promise<Response> {
    const url = input instanceof Request ? input.url : String(input);
    urls.push(url);
    return fetch(input, init);
  }
  return { fetch: counted, urls };
}

/** A clock the test moves by hand. */
class Clock {
  ms = T0;
  readonly now = (): number => this.ms;
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}

function config(jwtSecret: string): Config {
  return {
    ...DEFAULT_CONFIG,
    dbAnonRole: ANON,
    jwtSecret,
    jwtCacheMaxEntries: 100,
  };
}

interface Setup {
  readonly provider: Provider;
  readonly auth: JwtAuthenticator;
  readonly urls: string[];
  readonly clock: Clock;
  readonly logs: string[];
  [Symbol.asyncDispose](): Promise<void>;
}

async function setup(
  path: string,
  options: Partial<AuthenticatorOptions> = {},
): Promise<Setup> {
  const provider = new Provider();
  provider.start();
  const { fetch, urls } = countingFetch();
  const clock = new Clock();
  const logs: string[] = [];
  const auth = await createAuthenticator(config(provider.base + path), {
    fetch,
    now: clock.now,
    log: (level: LogLevel, message: string) =>
      logs.push(`${level}: ${message}`),
    ...options,
  });
  return {
    provider,
    auth,
    urls,
    clock,
    logs,
    async [Symbol.asyncDispose]() {
      auth.close();
      await provider.stop();
    },
  };
}

function bearer(t: string): string {
  return `Bearer ${t}`;
}

async function assertRejected(
  auth: JwtAuthenticator,
  t: string,
): Promise<void> {
  await assert.rejects(auth.authenticate(bearer(t), NOW_S), (e: unknown) => {
    assert.ok(e instanceof PgrstError);
    assert.equal(e.status, 401);
    assert.equal(e.code, "PGRST301");
    return true;
  });
}

async function assertAccepted(
  auth: JwtAuthenticator,
  t: string,
  role = "author",
): Promise<void> {
  const r = await auth.authenticate(bearer(t), NOW_S);
  assert.equal(r.role, role);
  assert.equal(r.authenticated, true);
}

// ----------------------------------------------------------------- tests

Deno.test("createAuthenticator() verifies RS256 and ES256 tokens with keys from a JWKS URL", async () => {
  await using s = await setup("/jwks.json");
  assert.deepEqual(s.urls, [`${s.provider.base}/jwks.json`]);
  await assertAccepted(s.auth, await token(RSA_A));
  await assertAccepted(s.auth, await token(EC_A, { role: "editor" }), "editor");
  // No kid: every key of the algorithm's type is a candidate.
  const noKid = await new SignJWT({ role: "author" })
    .setProtectedHeader({ alg: "ES256" })
    .sign(EC_A.privateKey);
  await assertAccepted(s.auth, noKid);
  // A known kid with the wrong signature is rejected without a refresh.
  const forged = await token({ ...ATTACKER, kid: RSA_A.kid });
  s.clock.advance(3600);
  await assertRejected(s.auth, forged);
  assert.equal(s.urls.length, 1);
  // Anonymous requests do not need keys.
  assert.equal((await s.auth.authenticate(null, NOW_S)).role, ANON);
});

Deno.test("createAuthenticator() discovers the JWKS of an OpenID Connect issuer", async () => {
  await using s = await setup("/idp");
  const base = s.provider.base;
  assert.deepEqual(s.urls, [
    `${base}/idp`,
    `${base}/idp/.well-known/openid-configuration`,
    `${base}/idp/keys`,
  ]);
  await assertAccepted(s.auth, await token(RSA_A));
  await assertAccepted(s.auth, await token(EC_A));
  // A refresh fetches the remembered jwks_uri directly.
  s.provider.jwks = { keys: [RSA_A.jwk, RSA_B.jwk] };
  s.clock.advance(61);
  await assertAccepted(s.auth, await token(RSA_B));
  assert.deepEqual(s.urls.slice(3), [`${base}/idp/keys`]);
});

Deno.test("createAuthenticator() accepts the URL of the discovery document itself", async () => {
  await using s = await setup("/idp/.well-known/openid-configuration");
  assert.equal(s.urls.length, 2);
  assert.equal(s.urls[1], `${s.provider.base}/idp/keys`);
  await assertAccepted(s.auth, await token(RSA_A));
});

Deno.test("authenticate() refreshes once for an unknown kid, shared by concurrent requests", async () => {
  await using s = await setup("/jwks.json");
  assert.equal(s.provider.hitsOf("/jwks.json"), 1);
  s.provider.jwks = { keys: [RSA_A.jwk, EC_A.jwk, RSA_B.jwk] };
  s.clock.advance(61);
  const t = await token(RSA_B);
  await Promise.all(
    Array.from({ length: 8 }, () => assertAccepted(s.auth, t)),
  );
  assert.equal(s.provider.hitsOf("/jwks.json"), 2);
  assert.equal(s.urls.length, 2);
  // Known keys never cause a fetch.
  await assertAccepted(s.auth, await token(RSA_A));
  await assertAccepted(s.auth, t);
  assert.equal(s.urls.length, 2);
});

Deno.test("authenticate() refreshes for unknown kids at most once a minute", async () => {
  await using s = await setup("/jwks.json");
  const unknown = await token(ATTACKER);
  // The start-up fetch counts: within a minute of it, no refresh.
  s.clock.advance(30);
  await assertRejected(s.auth, unknown);
  assert.equal(s.urls.length, 1);
  s.clock.advance(31);
  await assertRejected(s.auth, unknown);
  assert.equal(s.urls.length, 2);
  for (const step of [1, 20, 38]) {
    s.clock.advance(step);
    await assertRejected(s.auth, unknown);
    await assertRejected(s.auth, await token({ ...ATTACKER, kid: "other" }));
  }
  assert.equal(s.urls.length, 2, "59 s after the refresh, still none");
  s.clock.advance(1);
  await assertRejected(s.auth, unknown);
  assert.equal(s.urls.length, 3);
});

Deno.test("authenticate() picks up a key rotation after a minute and drops the old key", async () => {
  await using s = await setup("/jwks.json");
  const oldToken = await token(RSA_A);
  const newToken = await token(RSA_B);
  await assertAccepted(s.auth, oldToken);
  s.provider.jwks = { keys: [RSA_B.jwk] };
  s.clock.advance(10);
  await assertRejected(s.auth, newToken);
  assert.equal(s.urls.length, 1);
  s.clock.advance(51);
  await assertAccepted(s.auth, newToken);
  assert.equal(s.urls.length, 2);
  // The removed key no longer verifies, even for a token verified before.
  await assertRejected(s.auth, oldToken);
});

Deno.test("authenticate() keeps the previous keys when a refresh fails", async () => {
  await using s = await setup("/jwks.json");
  s.provider.failWith = 500;
  s.clock.advance(61);
  await assertRejected(s.auth, await token(RSA_B));
  assert.equal(s.urls.length > 1, true);
  await assertAccepted(s.auth, await token(RSA_A));
  assert.match(s.logs.join("\n"), /^warn: jwt-secret: cannot fetch keys/m);
  // Once it is back (and a minute has passed), the refresh succeeds.
  s.provider.failWith = null;
  s.provider.jwks = { keys: [RSA_A.jwk, RSA_B.jwk] };
  s.clock.advance(61);
  await assertAccepted(s.auth, await token(RSA_B));
});

Deno.test("createAuthenticator() starts without keys while the provider is down, then retries in the background", async () => {
  const provider = new Provider();
  provider.start();
  const port = provider.port;
  await provider.stop();
  const { fetch, urls } = countingFetch();
  const logs: string[] = [];
  const secretQuery = "access_token=do-not-log-me";
  const auth = await createAuthenticator(
    config(`http://127.0.0.1:${port}/jwks.json?${secretQuery}`),
    {
      fetch,
      now: new Clock().now,
      retryInitialMs: 10,
      retryMaxMs: 40,
      log: (level, message) => logs.push(`${level}: ${message}`),
    },
  );
  try {
    const t = await token(RSA_A);
    await assertRejected(auth, t);
    assert.match(
      logs[0] ?? "",
      /^error: jwt-secret: cannot fetch keys from http:\/\/127\.0\.0\.1:\d+: the request failed; every token is rejected/,
    );
    for (const line of logs) {
      assert.doesNotMatch(line, /do-not-log-me|jwks\.json/);
    }
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(urls.length >= 3, `background retries: ${urls.length}`);
    await assertRejected(auth, t);

    provider.start(port);
    const deadline = Date.now() + 5_000;
    let accepted = false;
    while (!accepted && Date.now() < deadline) {
      try {
        await assertAccepted(auth, t);
        accepted = true;
      } catch {
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    assert.ok(accepted, "accepted once the provider is back");
    assert.match(logs.at(-1) ?? "", /^info: jwt-secret: fetched 2 key\(s\)/);
    // Retries stop after a success.
    const fetches = urls.length;
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(urls.length, fetches);
  } finally {
    auth.close();
    await provider.stop();
  }
});

Deno.test("createAuthenticator() gives up on the first fetch after the timeout", async () => {
  let calls = 0;
  function hanging(
    _input: string | URL | Request,
    init?: RequestInit,
  ): Promise<Response> {
    calls++;
    return new Promise((_, reject) => {
      init?.signal?.addEventListener("abort", () => reject(new Error("x")));
    });
  }
  const started = Date.now();
  const auth = await createAuthenticator(
    config("https://idp.example.test/jwks"),
    {
      fetch: hanging,
      fetchTimeoutMs: 50,
      retryInitialMs: 60_000,
      log: () => {},
    },
  );
  try {
    assert.ok(Date.now() - started < 2_000);
    assert.equal(calls, 1, "no discovery after a network failure");
    await assertRejected(auth, await token(RSA_A));
  } finally {
    auth.close();
  }
});

Deno.test("authenticate() never fetches the jku, x5u or jwk of a token", async () => {
  await using s = await setup("/jwks.json");
  const base = s.provider.base;
  const hostile = {
    jku: `${base}/attacker/jwks.json`,
    x5u: `${base}/attacker/cert.pem`,
    jwk: ATTACKER.jwk,
  };
  s.clock.advance(61);
  // The attacker's own key, named and embedded in the header.
  await assertRejected(s.auth, await token(ATTACKER, {}, hostile));
  // A real key's kid, signed by the attacker.
  await assertRejected(
    s.auth,
    await token({ ...ATTACKER, kid: RSA_A.kid }, {}, hostile),
  );
  // A genuine token with the headers is accepted with the configured keys.
  await assertAccepted(s.auth, await token(RSA_A, { role: "author" }, hostile));
  for (const url of s.urls) assert.ok(!url.includes("/attacker/"), url);
  assert.equal(s.provider.hitsOf("/attacker/jwks.json"), 0);
  assert.equal(s.provider.hitsOf("/attacker/cert.pem"), 0);
});

Deno.test("createAuthenticator() never takes HMAC keys from a URL", async () => {
  const k = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA";
  const provider = new Provider();
  provider.jwks = { keys: [{ kty: "oct", k, kid: "hmac", alg: "HS256" }] };
  provider.start();
  const logs: string[] = [];
  const auth = await createAuthenticator(config(`${provider.base}/jwks.json`), {
    log: (level, message) => logs.push(`${level}: ${message}`),
    retryInitialMs: 60_000,
  });
  try {
    const hmac = await new SignJWT({ role: "author" })
      .setProtectedHeader({ alg: "HS256", kid: "hmac" })
      .sign(
        Uint8Array.from(
          atob(k.replaceAll("-", "+").replaceAll("_", "/") + "=="),
          (c) => c.charCodeAt(0),
        ),
      );
    await assertRejected(auth, hmac);
    assert.match(logs.join("\n"), /no usable signature key/);
  } finally {
    auth.close();
    await provider.stop();
  }
});

Deno.test("keySetUrl() accepts https and loopback http URLs only", () => {
  assert.equal(keySetUrl("reallyreallyreallyreallyverysafe"), null);
  assert.equal(keySetUrl('{"kty":"oct","k":"abc"}'), null);
  assert.equal(keySetUrl("https://idp.example.com")?.host, "idp.example.com");
  assert.equal(keySetUrl("HTTPS://idp.example.com/jwks")?.protocol, "https:");
  assert.equal(keySetUrl("http://localhost:8080/jwks")?.port, "8080");
  assert.equal(keySetUrl("http://127.0.0.1/jwks")?.hostname, "127.0.0.1");
  assert.equal(keySetUrl("http://[::1]:9/jwks")?.hostname, "[::1]");
  for (
    const bad of ["http://idp.example.com/jwks", "http://10.0.0.1/", "https://"]
  ) {
    assert.throws(() => keySetUrl(bad), (e: unknown) => {
      assert.ok(e instanceof Error);
      assert.match(e.message, /^Invalid jwt-secret: /);
      assert.ok(!e.message.includes("example"));
      return true;
    });
  }
});

Deno.test("parseConfig() accepts a key URL as jwt-secret without a length warning", () => {
  const parse = (secret: string) =>
    parseConfig({
      args: [],
      env: { PGRST_JWT_SECRET: secret },
      fileText: null,
    });
  const ok = parse("https://idp.example.com");
  assert.equal(ok.config.jwtSecret, "https://idp.example.com");
  assert.deepEqual(ok.warnings, []);
  assert.throws(
    () => parse("http://idp.example.com/jwks"),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match(
        e.message,
        /^Invalid value for jwt-secret \(PGRST_JWT_SECRET\): the value is not a usable key URL/,
      );
      assert.ok(!e.message.includes("idp.example.com"));
      return true;
    },
  );
});

Deno.test("signJwt() with a key URL is PGRST300", async () => {
  await assert.rejects(
    signJwt({ role: "author" }, config("https://idp.example.com")),
    (e: unknown) => e instanceof PgrstError && e.code === "PGRST300",
  );
});
