/**
 * Owns the JWT gate, as PostgREST's `Auth.hs`, `Auth/Jwt.hs` and
 * `Auth/JwtCache.hs`: it turns the `Authorization` header into the role a
 * request runs as ({@linkcode createAuthenticator}), and signs tokens with the
 * HMAC secret ({@linkcode signJwt}).
 *
 * - `jwt-secret` is a plain HMAC secret (at least 32 bytes; base64-decoded when
 *   `jwt-secret-is-base64`), a JWK or a JWKS. Keys are imported once, one
 *   WebCrypto key per algorithm the key type allows, so the algorithm is
 *   pinned to the key type: an HS256 token never meets an RSA key.
 * - Beyond PostgREST, `jwt-secret` may be the URL of a JWKS or of an OpenID
 *   Connect issuer (`jwks_url.ts` owns fetching, caching and refreshing).
 *   Only asymmetric keys are taken from a URL (an `oct` key there would let
 *   anyone who can read it sign tokens). When a token names no known key
 *   (no key matches its `kid` and `alg`), the keys are refreshed, at most
 *   once a minute, and the token is checked again. Token headers `jku`,
 *   `x5u`, `x5c` and `jwk` are ignored: keys come only from `jwt-secret`.
 * - Verification follows the `jose-jwt` library PostgREST uses: a key is a
 *   candidate when its `use` is not `enc`, its `kid` equals the token's (when
 *   the token has one), its `alg` (when set) equals the token's, and its type
 *   fits the algorithm; candidates are tried in order.
 * - A role claim of `none` is refused as a role that does not exist (401
 *   22023): PostgreSQL would read it as `RESET ROLE` and run the request as
 *   the authenticator.
 * - Successful decodes are kept in a bounded LRU cache keyed by the token;
 *   `exp`/`nbf`/`iat`/`aud` ({@linkcode validateClaims}, pure) are checked on
 *   every request against the injected clock, with 30 s of skew.
 *
 * Effectful shell (WebCrypto); messages never contain tokens or secrets.
 *
 * @module
 */

import type { Config, LogLevel } from "../config/types.ts";
import {
  anonymousDisabled,
  isRecord,
  jwtClaimsError,
  jwtDecodeError,
  missingJwtSecret,
  PgrstError,
} from "../error.ts";
import {
  DEFAULT_ROLE_CLAIM_KEY,
  extractRole,
  type JsPath,
  parseRoleClaimKey,
} from "./role_claim_key.ts";
import type { Authenticator, AuthResult } from "./types.ts";
import { keySetUrl, RemoteKeySet } from "./jwks_url.ts";
import { log } from "../log.ts";

export {
  DEFAULT_ROLE_CLAIM_KEY,
  extractRole,
  parseRoleClaimKey,
} from "./role_claim_key.ts";
export type { FilterOp, JsPath, JsPathStep } from "./role_claim_key.ts";

/** Seconds of clock skew allowed for `exp`, `nbf` and `iat`. */
export const ALLOWED_SKEW_SECONDS = 30;

// ------------------------------------------------------------- algorithms

type KeyType = "oct" | "RSA" | "EC" | "OKP";

interface AlgSpec {
  readonly kty: KeyType;
  /** The curve the key must have (EC and OKP). */
  readonly crv?: string;
  readonly importParams: RsaHashedImportParams | EcKeyImportParams | {
    readonly name: string;
    readonly hash?: string;
  };
  readonly verifyParams: AlgorithmIdentifier | RsaPssParams | EcdsaParams;
  /** Exact signature length in bytes, when the algorithm fixes it. */
  readonly sigLength?: number;
}

function hmac(hash: string): AlgSpec {
  return {
    kty: "oct",
    importParams: { name: "HMAC", hash },
    verifyParams: { name: "HMAC" },
  };
}

function rsa(hash: string): AlgSpec {
  return {
    kty: "RSA",
    importParams: { name: "RSASSA-PKCS1-v1_5", hash },
    verifyParams: { name: "RSASSA-PKCS1-v1_5" },
  };
}

function pss(hash: string, saltLength: number): AlgSpec {
  return {
    kty: "RSA",
    importParams: { name: "RSA-PSS", hash },
    verifyParams: { name: "RSA-PSS", saltLength },
  };
}

function ec(crv: string, hash: string, sigLength: number): AlgSpec {
  return {
    kty: "EC",
    crv,
    importParams: { name: "ECDSA", namedCurve: crv },
    verifyParams: { name: "ECDSA", hash },
    sigLength,
  };
}

const ED25519: AlgSpec = {
  kty: "OKP",
  crv: "Ed25519",
  importParams: { name: "Ed25519" },
  verifyParams: { name: "Ed25519" },
  sigLength: 64,
};

/** Every JWS algorithm the gate verifies. `none` is never among them. */
const ALGORITHMS: ReadonlyMap<string, AlgSpec> = new Map([
  ["HS256", hmac("SHA-256")],
  ["HS384", hmac("SHA-384")],
  ["HS512", hmac("SHA-512")],
  ["RS256", rsa("SHA-256")],
  ["RS384", rsa("SHA-384")],
  ["RS512", rsa("SHA-512")],
  ["PS256", pss("SHA-256", 32)],
  ["PS384", pss("SHA-384", 48)],
  ["PS512", pss("SHA-512", 64)],
  ["ES256", ec("P-256", "SHA-256", 64)],
  ["ES384", ec("P-384", "SHA-384", 96)],
  ["ES512", ec("P-521", "SHA-512", 132)],
  ["EdDSA", ED25519],
  ["Ed25519", ED25519],
]);

// ------------------------------------------------------------ decode errors

/** Why a token could not be decoded (PGRST301), as PostgREST's `JwtDecodeError`. */
export type DecodeFailure =
  | { readonly kind: "emptyAuthHeader" }
  | { readonly kind: "unexpectedParts"; readonly parts: number }
  | { readonly kind: "keyError"; readonly details: string }
  | { readonly kind: "badAlgorithm"; readonly details: string }
  | { readonly kind: "badCrypto" }
  | { readonly kind: "unsupportedTokenType" }
  | { readonly kind: "unreachable" };

/** The PGRST301 error for a decode failure, with PostgREST's message and details. */
export function decodeFailureError(failure: DecodeFailure): PgrstError {
  switch (failure.kind) {
    case "emptyAuthHeader":
      return jwtDecodeError("Empty JWT is sent in Authorization header");
    case "unexpectedParts":
      return jwtDecodeError(`Expected 3 parts in JWT; got ${failure.parts}`);
    case "keyError":
      return withDetails(
        jwtDecodeError("No suitable key or wrong key type"),
        failure.details,
      );
    case "badAlgorithm":
      return withDetails(
        jwtDecodeError("Wrong or unsupported encoding algorithm"),
        failure.details,
      );
    case "badCrypto":
      return jwtDecodeError("JWT cryptographic operation failed");
    case "unsupportedTokenType":
      return jwtDecodeError("Unsupported token type");
    case "unreachable":
      return jwtDecodeError("JWT couldn't be decoded");
    default: {
      const never: never = failure;
      return never;
    }
  }
}

function withDetails(e: PgrstError, details: string): PgrstError {
  return new PgrstError(e.status, e.code, e.message, {
    details,
    hint: e.hint,
    headers: e.headers,
  });
}

function fail(failure: DecodeFailure): never {
  throw decodeFailureError(failure);
}

// ----------------------------------------------------------------- claims

/**
 * Checks `exp`, `nbf`, `iat` (30 s skew) and `aud`, in PostgREST's order.
 * A missing or null claim passes; a non-integral or out-of-range number
 * counts as 0, as PostgREST's `toBoundedInteger`. `aud` must contain
 * `audience` when one is configured; an empty `aud` array passes.
 *
 * @throws {PgrstError} PGRST303
 */
export function validateClaims(
  claims: Readonly<Record<string, unknown>>,
  nowSeconds: number,
  options: { readonly audience?: string | null } = {},
): void {
  const audience = options.audience ?? null;
  const now = Math.floor(nowSeconds);
  const exp = numericClaim(claims, "exp");
  if (exp !== null && now - ALLOWED_SKEW_SECONDS > exp) {
    throw jwtClaimsError("JWT expired");
  }
  const nbf = numericClaim(claims, "nbf");
  if (nbf !== null && now + ALLOWED_SKEW_SECONDS < nbf) {
    throw jwtClaimsError("JWT not yet valid");
  }
  const iat = numericClaim(claims, "iat");
  if (iat !== null && now + ALLOWED_SKEW_SECONDS < iat) {
    throw jwtClaimsError("JWT issued at future");
  }
  const aud = Object.hasOwn(claims, "aud") ? claims["aud"] : null;
  if (aud === null || aud === undefined) return;
  let auds: readonly string[];
  if (typeof aud === "string") {
    auds = [aud];
  } else if (
    Array.isArray(aud) && aud.every((a): a is string => typeof a === "string")
  ) {
    auds = aud;
  } else {
    throw jwtClaimsError(
      "The JWT 'aud' claim must be a string or an array of strings",
    );
  }
  if (
    audience !== null && audience !== "" && auds.length > 0 &&
    !auds.includes(audience)
  ) {
    throw jwtClaimsError("JWT not in audience");
  }
}

const INT64_LIMIT = 2 ** 63;

function numericClaim(
  claims: Readonly<Record<string, unknown>>,
  key: "exp" | "nbf" | "iat",
): number | null {
  const v = Object.hasOwn(claims, key) ? claims[key] : null;
  if (v === null || v === undefined) return null;
  if (typeof v !== "number") {
    throw jwtClaimsError(`The JWT '${key}' claim must be a number`);
  }
  return Number.isInteger(v) && v >= -INT64_LIMIT && v < INT64_LIMIT ? v : 0;
}

// ------------------------------------------------------------------- keys

/** A key parsed from `jwt-secret`, before import. */
type KeySpec =
  | {
    readonly kty: "oct";
    readonly bytes: Uint8Array<ArrayBuffer>;
    readonly kid: string | null;
    readonly use: string | null;
    readonly alg: string | null;
  }
  | {
    readonly kty: "RSA" | "EC" | "OKP";
    readonly jwk: JsonWebKey;
    readonly crv: string | null;
    readonly kid: string | null;
    readonly use: string | null;
    readonly alg: string | null;
  };

/** An imported key: one WebCrypto key per algorithm it may verify. */
interface VerificationKey {
  readonly kid: string | null;
  readonly use: string | null;
  readonly byAlg: ReadonlyMap<string, CryptoKey>;
}

/**
 * Parses `jwt-secret` as PostgREST's `parseSecret`: a JWKS, else a JWK, else
 * the secret bytes themselves. Returns null when no secret is configured.
 */
function parseSecret(config: Config): readonly KeySpec[] | null {
  const text = config.jwtSecret;
  if (text === null || text === "") return null;
  if (secretUrl(config) !== null) return [];
  const bytes = config.jwtSecretIsBase64
    ? decodeSecretBase64(text)
    : utf8(text);
  const json = parseJsonBytes(bytes);
  const jwks: unknown = isRecord(json) ? json["keys"] : undefined;
  if (Array.isArray(jwks)) {
    const entries: readonly unknown[] = jwks;
    const specs: KeySpec[] = [];
    entries.forEach((k, i) => {
      const spec = parseJwk(k, `JWKS key ${i}`);
      if (spec !== null) specs.push(spec);
    });
    if (specs.length === 0) {
      throw new Error(
        "Invalid jwt-secret: the JWKS contains no key that can verify signatures",
      );
    }
    return specs;
  }
  if (isRecord(json) && typeof json["kty"] === "string") {
    const spec = parseJwk(json, "JWK");
    if (spec === null) {
      throw new Error(
        `Invalid jwt-secret: unsupported JWK (kty ${
          JSON.stringify(json["kty"])
        }, alg ${JSON.stringify(json["alg"] ?? null)}, use ${
          JSON.stringify(json["use"] ?? null)
        })`,
      );
    }
    return [spec];
  }
  if (bytes.length === 0) {
    throw new Error("Invalid jwt-secret: it is empty after decoding");
  }
  // Shorter than 32 bytes is accepted: configuration loading warns loudly.
  return [{ kty: "oct", bytes, kid: null, use: null, alg: null }];
}

/** PostgREST's `decodeSecret`: URL-safe characters are accepted too. */
function decodeSecretBase64(text: string): Uint8Array<ArrayBuffer> {
  const std = text.replaceAll("-", "+").replaceAll("_", "/").replaceAll(
    ".",
    "=",
  ).trim();
  const unpadded = std.replace(/=+$/, "");
  const bytes = /^[A-Za-z0-9+/]*$/.test(unpadded)
    ? base64Decode(unpadded)
    : null;
  if (bytes === null) {
    throw new Error(
      "Invalid jwt-secret: jwt-secret-is-base64 is set but the secret is not valid base64",
    );
  }
  return bytes;
}

/** Reads one JWK; null when it cannot verify signatures (skipped in a JWKS). */
function parseJwk(raw: unknown, what: string): KeySpec | null {
  if (!isRecord(raw)) {
    throw new Error(`Invalid jwt-secret: ${what} is not an object`);
  }
  const kty = raw["kty"];
  const kid = optionalString(raw, "kid", what);
  const use = optionalString(raw, "use", what);
  const alg = optionalString(raw, "alg", what);
  if (use === "enc") return null;
  if (alg !== null) {
    const spec = ALGORITHMS.get(alg);
    if (spec === undefined || spec.kty !== kty) return null;
  }
  switch (kty) {
    case "oct": {
      const k = requiredString(raw, "k", what);
      const bytes = base64UrlDecode(k.replace(/=+$/, ""));
      if (bytes === null || bytes.length === 0) {
        throw new Error(
          `Invalid jwt-secret: ${what} has an empty or invalid "k"`,
        );
      }
      return { kty, bytes, kid, use, alg };
    }
    case "RSA": {
      const jwk: JsonWebKey = {
        kty,
        n: requiredString(raw, "n", what),
        e: requiredString(raw, "e", what),
      };
      return { kty, jwk, crv: null, kid, use, alg };
    }
    case "EC":
    case "OKP": {
      const crv = requiredString(raw, "crv", what);
      const supported = [...ALGORITHMS.values()].some((s) =>
        s.kty === kty && s.crv === crv
      );
      if (!supported) return null;
      if (alg !== null && ALGORITHMS.get(alg)?.crv !== crv) return null;
      const jwk: JsonWebKey = kty === "EC"
        ? {
          kty,
          crv,
          x: requiredString(raw, "x", what),
          y: requiredString(raw, "y", what),
        }
        : { kty, crv, x: requiredString(raw, "x", what) };
      return { kty, jwk, crv, kid, use, alg };
    }
    default:
      return null;
  }
}

function optionalString(
  o: Record<string, unknown>,
  key: string,
  what: string,
): string | null {
  const v = o[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== "string") {
    throw new Error(`Invalid jwt-secret: ${what} has a non-string "${key}"`);
  }
  return v;
}

function requiredString(
  o: Record<string, unknown>,
  key: string,
  what: string,
): string {
  const v = o[key];
  if (typeof v !== "string") {
    throw new Error(`Invalid jwt-secret: ${what} lacks "${key}"`);
  }
  return v;
}

async function importVerificationKey(spec: KeySpec): Promise<VerificationKey> {
  const byAlg = new Map<string, CryptoKey>();
  for (const [name, alg] of ALGORITHMS) {
    if (alg.kty !== spec.kty) continue;
    if (spec.alg !== null && spec.alg !== name) continue;
    if (spec.kty !== "oct" && alg.crv !== undefined && alg.crv !== spec.crv) {
      continue;
    }
    try {
      const key = spec.kty === "oct"
        ? await crypto.subtle.importKey(
          "raw",
          spec.bytes,
          alg.importParams,
          false,
          ["verify"],
        )
        : await crypto.subtle.importKey(
          "jwk",
          spec.jwk,
          alg.importParams,
          false,
          ["verify"],
        );
      // Deno defers some key checks (EC points, RSA moduli) to verify():
      // probe once so a bad key fails at start-up, not on every request.
      await crypto.subtle.verify(
        alg.verifyParams,
        key,
        new Uint8Array(alg.sigLength ?? 1),
        new Uint8Array(1),
      );
      byAlg.set(name, key);
    } catch (e) {
      const kid = spec.kid === null ? "" : ` (kid ${JSON.stringify(spec.kid)})`;
      throw new Error(
        `Invalid jwt-secret: cannot import the ${spec.kty} key${kid} for ${name}: ${
          e instanceof Error ? e.message : String(e)
        }`,
      );
    }
  }
  return { kid: spec.kid, use: spec.use, byAlg };
}

/**
 * The key URL `jwt-secret` names, or null for a secret, JWK or JWKS. A
 * base64 secret (`jwt-secret-is-base64`) is never a URL.
 *
 * @throws {Error} for an `http://` URL off the loopback host, or a bad URL
 */
function secretUrl(config: Config): URL | null {
  const text = config.jwtSecret;
  if (text === null || config.jwtSecretIsBase64) return null;
  return keySetUrl(text);
}

/**
 * Imports the keys of a JWKS fetched from a URL. Unlike a configured JWKS,
 * a key that cannot be read or imported is skipped rather than fatal, and
 * `oct` (HMAC) keys are always skipped: a published symmetric key would let
 * anyone sign tokens.
 */
async function importRemoteKeys(
  jwks: Readonly<Record<string, unknown>>,
): Promise<readonly VerificationKey[]> {
  const entries: unknown = jwks["keys"];
  if (!Array.isArray(entries)) return [];
  const list: readonly unknown[] = entries;
  const keys: VerificationKey[] = [];
  for (const [i, raw] of list.entries()) {
    if (!isRecord(raw) || raw["kty"] === "oct") continue;
    try {
      const spec = parseJwk(raw, `JWKS key ${i}`);
      if (spec === null || spec.kty === "oct") continue;
      keys.push(await importVerificationKey(spec));
    } catch {
      // An unusable key is skipped; the set fails only when none is left.
    }
  }
  return keys;
}

// ------------------------------------------------------------------ cache

/** A bounded map that evicts the least recently used entry. */
export class LruCache<K, V> {
  readonly #max: number;
  readonly #map = new Map<K, V>();

  /** @param max the most entries kept; 0 or less keeps nothing */
  constructor(max: number) {
    this.#max = Math.max(0, Math.floor(max));
  }

  get size(): number {
    return this.#map.size;
  }

  get(key: K): V | undefined {
    const v = this.#map.get(key);
    if (v !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, v);
    }
    return v;
  }

  set(key: K, value: V): void {
    if (this.#max === 0) return;
    this.#map.delete(key);
    while (this.#map.size >= this.#max) {
      const oldest = this.#map.keys().next();
      if (oldest.done === true) break;
      this.#map.delete(oldest.value);
    }
    this.#map.set(key, value);
  }

  /** Removes every entry. */
  clear(): void {
    this.#map.clear();
  }
}

// ---------------------------------------------------------- authenticator

/** The {@linkcode Authenticator} with its cache size exposed for tests and metrics. */
export interface JwtAuthenticator extends Authenticator {
  /** Tokens currently held in the verification cache. */
  readonly cacheSize: number;
  /** Verifications answered from the cache, and those that were not. */
  readonly cacheHits: number;
  readonly cacheMisses: number;
  /** Stops background key fetches (a key URL only); safe to call twice. */
  close(): void;
}

/**
 * I/O and timing of {@linkcode createAuthenticator}, used only when
 * `jwt-secret` is a key URL. Every field has a default.
 */
export interface AuthenticatorOptions {
  /** Fetches the keys; default `globalThis.fetch`. */
  readonly fetch?: typeof fetch;
  /** The clock for refresh rate limiting, in ms; default `Date.now`. */
  readonly now?: () => number;
  /** Deadline of one key fetch (start-up included); default 5000 ms. */
  readonly fetchTimeoutMs?: number;
  /** Least time between refreshes for unknown keys; default 60000 ms. */
  readonly refreshIntervalMs?: number;
  /** First background retry delay after a failed start; default 1000 ms. */
  readonly retryInitialMs?: number;
  /** Cap of the background retry delay; default 60000 ms. */
  readonly retryMaxMs?: number;
  /** Where key fetch failures are reported; default stderr at `log-level`. */
  readonly log?: (level: LogLevel, message: string) => void;
}

type Claims = Readonly<Record<string, unknown>>;

const NO_CLAIMS: Claims = Object.freeze({});

/**
 * Imports the keys of `jwt-secret` and parses `jwt-role-claim-key` once.
 *
 * When `jwt-secret` is a key URL, the first fetch is awaited (up to
 * `fetchTimeoutMs`); if it fails the authenticator starts without keys,
 * rejects every token with PGRST301 and retries in the background.
 *
 * @throws {Error} when `jwt-secret` or `jwt-role-claim-key` is invalid
 */
export async function createAuthenticator(
  config: Config,
  options: AuthenticatorOptions = {},
): Promise<JwtAuthenticator> {
  const rolePath: JsPath = config.jwtRoleClaimKey === ""
    ? DEFAULT_ROLE_CLAIM_KEY
    : parseRoleClaimKey(config.jwtRoleClaimKey);
  const url = secretUrl(config);
  let staticKeys: readonly VerificationKey[] | null = null;
  let remote: RemoteKeySet<VerificationKey> | null = null;
  if (url === null) {
    const specs = parseSecret(config);
    staticKeys = specs === null
      ? null
      : await Promise.all(specs.map(importVerificationKey));
  } else {
    const logLevel = config.logLevel;
    remote = new RemoteKeySet(url, importRemoteKeys, {
      fetch: options.fetch ?? globalThis.fetch,
      now: options.now ?? Date.now,
      timeoutMs: options.fetchTimeoutMs ?? 5_000,
      minRefreshIntervalMs: options.refreshIntervalMs ?? 60_000,
      retryInitialMs: options.retryInitialMs ?? 1_000,
      retryMaxMs: options.retryMaxMs ?? 60_000,
      log: options.log ??
        ((level: LogLevel, message: string) => log(level, message, logLevel)),
    });
    await remote.start();
  }
  const cache = new LruCache<string, Claims>(config.jwtCacheMaxEntries);
  let hits = 0;
  let misses = 0;
  const anonRole = config.dbAnonRole;
  // one result for every anonymous request (it is never changed)
  const anonymous: AuthResult | null = anonRole === null
    ? null
    : Object.freeze({
      role: anonRole,
      claims: NO_CLAIMS,
      authenticated: false,
    });
  const audience = config.jwtAud;
  let seenKeys: readonly VerificationKey[] | null = remote?.keys ?? null;

  /** The current keys; null when no secret is configured. */
  function currentKeys(): readonly VerificationKey[] | null {
    if (remote === null) return staticKeys;
    const keys = remote.keys;
    // Tokens verified with keys that were since replaced are checked again.
    if (keys !== seenKeys) {
      cache.clear();
      seenKeys = keys;
    }
    return keys;
  }

  async function claimsOf(
    keys: readonly VerificationKey[],
    token: string,
  ): Promise<Claims> {
    if (token === "") fail({ kind: "emptyAuthHeader" });
    const parts = token.split(".");
    if (parts.length !== 3) {
      fail({ kind: "unexpectedParts", parts: parts.length });
    }
    const cached = cache.get(token);
    if (cached !== undefined) {
      hits++;
      return cached;
    }
    misses++;
    const decoded = decodeToken(parts);
    let candidates = candidateKeys(keys, decoded);
    if (candidates.length === 0 && remote !== null) {
      // An unknown key: maybe the provider rotated its keys.
      await remote.refreshIfAllowed();
      const fresh = currentKeys() ?? [];
      candidates = candidateKeys(fresh, decoded);
    }
    const claims = await verifyDecoded(candidates, decoded);
    cache.set(token, claims);
    return claims;
  }

  return {
    get cacheSize(): number {
      return cache.size;
    },
    get cacheHits(): number {
      return hits;
    },
    get cacheMisses(): number {
      return misses;
    },

    close(): void {
      remote?.close();
    },

    anonymous(): AuthResult {
      if (anonymous === null) throw anonymousDisabled();
      return anonymous;
    },

    async authenticate(
      authorization: string | null,
      nowSeconds: number,
    ): Promise<AuthResult> {
      const token = bearerToken(authorization);
      if (token === null) {
        if (anonymous === null) throw anonymousDisabled();
        return anonymous;
      }
      const keys = currentKeys();
      if (keys === null) throw missingJwtSecret();
      const claims = await claimsOf(keys, token);
      validateClaims(claims, nowSeconds, { audience });
      const role = extractRole(claims, rolePath) ?? anonRole;
      if (role === null) throw anonymousDisabled();
      if (role === RESET_ROLE) throw roleDoesNotExist(role);
      return { role, claims, authenticated: true };
    },
  };
}

/**
 * The value PostgreSQL's `role` setting reads as `RESET ROLE`: with it,
 * `set_config('role', …)` switches back to the session user, the
 * authenticator. No role can be named so (`CREATE ROLE none` fails: the name
 * is reserved), so a token claiming it is treated as naming a role that does
 * not exist. PostgREST passes it through and runs the request as the
 * authenticator.
 */
const RESET_ROLE = "none";

/**
 * The error PostgreSQL raises when the claimed role does not exist (22023),
 * which PostgREST answers with 401 and a `Bearer` challenge.
 */
function roleDoesNotExist(role: string): PgrstError {
  return new PgrstError(401, "22023", `role "${role}" does not exist`, {
    headers: [["WWW-Authenticate", "Bearer"]],
  });
}

/**
 * The token of a `Bearer` header, as wai-extra's `extractBearerAuth`: the
 * scheme is case-insensitive and ends at the first space; other schemes and
 * a missing header mean no token.
 */
function bearerToken(authorization: string | null): string | null {
  if (authorization === null) return null;
  const m = /^([^ \t\n\v\f\r\u00a0]*)(.*)$/s.exec(authorization);
  if (m === null || m[1]?.toLowerCase() !== "bearer") return null;
  return (m[2] ?? "").replace(/^[ \t\n\v\f\r\u00a0]+/, "");
}

/** A token whose header and parts parsed, before its signature is checked. */
interface DecodedToken {
  readonly alg: string;
  readonly spec: AlgSpec;
  readonly kid: string | undefined;
  readonly payload: Uint8Array<ArrayBuffer>;
  readonly signature: Uint8Array<ArrayBuffer>;
  readonly signed: Uint8Array<ArrayBuffer>;
}

/**
 * Parses the header and the parts of a token. Header parameters other than
 * `alg`, `kid` and `crit` (`jku`, `x5u`, `jwk`, ...) are never used.
 */
function decodeToken(parts: readonly string[]): DecodedToken {
  const [h = "", p = "", s = ""] = parts;
  const header = parseJsonBytes(base64UrlDecode(h));
  if (!isRecord(header)) fail({ kind: "badCrypto" });
  const alg = header["alg"];
  if (typeof alg !== "string") fail({ kind: "badCrypto" });
  if (alg.toLowerCase() === "none") {
    fail({
      kind: "badAlgorithm",
      details: "JWT is unsecured but expected 'alg' was not 'none'",
    });
  }
  const spec = ALGORITHMS.get(alg);
  if (spec === undefined) fail({ kind: "badCrypto" });
  if (Object.hasOwn(header, "crit")) fail({ kind: "unsupportedTokenType" });
  const kid = header["kid"];
  if (kid !== undefined && typeof kid !== "string") fail({ kind: "badCrypto" });
  const payload = base64UrlDecode(p);
  const signature = base64UrlDecode(s);
  if (payload === null || signature === null) fail({ kind: "badCrypto" });
  const signed = new TextEncoder().encode(`${h}.${p}`);
  return { alg, spec, kid, payload, signature, signed };
}

/** The keys that may have signed the token, in order. */
function candidateKeys(
  keys: readonly VerificationKey[],
  t: DecodedToken,
): readonly VerificationKey[] {
  return keys.filter((k) =>
    k.use !== "enc" && (t.kid === undefined || k.kid === t.kid) &&
    k.byAlg.has(t.alg)
  );
}

async function verifyDecoded(
  candidates: readonly VerificationKey[],
  t: DecodedToken,
): Promise<Claims> {
  const { alg, spec, payload, signature, signed } = t;
  if (candidates.length === 0) {
    fail({
      kind: "keyError",
      details: "No suitable key was found to decode the JWT",
    });
  }
  let verified = false;
  for (const k of candidates) {
    const key = k.byAlg.get(alg);
    if (key === undefined) continue;
    if (await verifySignature(spec, key, signature, signed)) {
      verified = true;
      break;
    }
  }
  if (!verified) {
    fail({
      kind: "keyError",
      details: "None of the keys was able to decode the JWT",
    });
  }
  const claims = parseJsonBytes(payload);
  if (!isRecord(claims)) throw jwtClaimsError("Parsing claims failed");
  return deepFreeze(claims);
}

async function verifySignature(
  spec: AlgSpec,
  key: CryptoKey,
  signature: Uint8Array<ArrayBuffer>,
  data: Uint8Array<ArrayBuffer>,
): Promise<boolean> {
  if (spec.sigLength !== undefined && signature.length !== spec.sigLength) {
    return false;
  }
  try {
    return await crypto.subtle.verify(spec.verifyParams, key, signature, data);
  } catch {
    // verify() reports a bad signature as false; a throw is unexpected.
    fail({ kind: "unreachable" });
  }
}

// ---------------------------------------------------------------- signing

let signingKeyCache: {
  readonly secret: string;
  readonly base64: boolean;
  readonly key: CryptoKey;
} | null = null;

/**
 * Signs `claims` as an HS256 JWT with the HMAC secret of `jwt-secret` (plain
 * text, base64, or an `oct` JWK or JWKS entry).
 *
 * @throws {PgrstError} PGRST300 (500) when no secret or no HMAC key is configured
 */
export async function signJwt(
  claims: Record<string, unknown>,
  config: Config,
): Promise<string> {
  const key = await signingKey(config);
  const enc = new TextEncoder();
  const head = base64UrlEncode(enc.encode('{"alg":"HS256","typ":"JWT"}'));
  const body = base64UrlEncode(enc.encode(JSON.stringify(claims)));
  const input = `${head}.${body}`;
  const sig = await crypto.subtle.sign("HMAC", key, enc.encode(input));
  return `${input}.${base64UrlEncode(new Uint8Array(sig))}`;
}

async function signingKey(config: Config): Promise<CryptoKey> {
  const secret = config.jwtSecret;
  if (secret === null || secret === "") throw missingJwtSecret();
  const cached = signingKeyCache;
  if (
    cached !== null && cached.secret === secret &&
    cached.base64 === config.jwtSecretIsBase64
  ) {
    return cached.key;
  }
  if (secretUrl(config) !== null) {
    throw new PgrstError(500, "PGRST300", "Server lacks JWT secret", {
      details:
        "Signing a JWT needs an HMAC secret (HS256), but jwt-secret is the URL of keys from an identity provider",
    });
  }
  const specs = parseSecret(config) ?? [];
  const oct = specs.find((s) =>
    s.kty === "oct" && s.use !== "enc" && (s.alg === null || s.alg === "HS256")
  );
  if (oct === undefined || oct.kty !== "oct") {
    throw new PgrstError(500, "PGRST300", "Server lacks JWT secret", {
      details:
        "Signing a JWT needs an HMAC secret (HS256), but jwt-secret holds only asymmetric keys",
    });
  }
  const key = await crypto.subtle.importKey(
    "raw",
    oct.bytes,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  signingKeyCache = { secret, base64: config.jwtSecretIsBase64, key };
  return key;
}

// ---------------------------------------------------------------- helpers

const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** Strict unpadded base64url, as `Base64URLUnpadded`; null when invalid. */
function base64UrlDecode(s: string): Uint8Array<ArrayBuffer> | null {
  if (!BASE64URL.test(s)) return null;
  return base64Decode(s.replaceAll("-", "+").replaceAll("_", "/"));
}

/** Unpadded standard base64 (alphabet already checked); null when invalid. */
function base64Decode(s: string): Uint8Array<ArrayBuffer> | null {
  if (s.length % 4 === 1) return null;
  let bin: string;
  try {
    bin = atob(s + "=".repeat((4 - (s.length % 4)) % 4));
  } catch {
    return null;
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function base64UrlEncode(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function utf8(s: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(s);
}

const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** JSON from UTF-8 bytes; undefined when the bytes are not valid JSON. */
function parseJsonBytes(bytes: Uint8Array | null): unknown {
  if (bytes === null) return undefined;
  try {
    return JSON.parse(STRICT_UTF8.decode(bytes));
  } catch {
    return undefined;
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
