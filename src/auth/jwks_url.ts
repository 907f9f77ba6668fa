/**
 * Owns keys from an identity provider: a `jwt-secret` that is a URL
 * ({@linkcode keySetUrl}) and the cached, refreshed key set fetched from it
 * ({@linkcode RemoteKeySet}). This goes beyond PostgREST, which only reads
 * keys from the configuration.
 *
 * How the URL is read ("decide by trying"):
 *
 * 1. The URL itself is fetched. A JSON object whose `keys` is an array is the
 *    JWKS.
 * 2. A JSON object with a string `jwks_uri` is an OpenID Connect discovery
 *    document, and its `jwks_uri` is fetched.
 * 3. Any other answer (another status, not JSON, JSON without `keys`) makes
 *    the URL an issuer: `<issuer>/.well-known/openid-configuration` is fetched
 *    (OpenID Connect Discovery 1.0, section 4), then its `jwks_uri`.
 *
 * If the URL cannot be reached at all (network error, timeout), the attempt
 * fails without trying discovery. Every URL, including `jwks_uri` and the
 * target of a redirect, must be `https://`, or `http://` on `localhost`,
 * `127.0.0.1` or `[::1]`. The URL that produced the JWKS is remembered and
 * later refreshes fetch it directly; a failure forgets it.
 *
 * Safety rules:
 *
 * - A fetch failure never admits a token: the previous keys stay in use (or,
 *   before the first success, there are none and every token is rejected).
 * - Refreshes are single-flight, and requests may trigger one at most once
 *   per `minRefreshIntervalMs` (any fetch attempt counts). After a failed
 *   first fetch, background retries use capped exponential backoff on
 *   unreferenced timers until one succeeds.
 * - Each refresh has one deadline for all of its requests, and bodies are
 *   capped in size.
 * - Log messages name only the origin (scheme, host and port) and a fixed
 *   reason, never the path, query, credentials or a response body.
 *
 * Effectful shell (network, timers).
 *
 * @module
 */

import { isRecord } from "../error.ts";

/** Where a log message goes; `level` is one of the configuration's levels. */
export type KeySetLogger = (
  level: "error" | "warn" | "info",
  message: string,
) => void;

/** Turns a fetched JWKS document into verification keys (possibly none). */
export type KeyLoader<K> = (
  jwks: Readonly<Record<string, unknown>>,
) => Promise<readonly K[]>;

/** Timing, I/O and logging of a {@linkcode RemoteKeySet}. */
export interface RemoteKeySetOptions {
  /** The fetch function (tests inject one). */
  readonly fetch: typeof fetch;
  /** The clock, in milliseconds since the epoch (for rate limiting). */
  readonly now: () => number;
  /** The deadline of one refresh, all its requests included. */
  readonly timeoutMs: number;
  /** The least time between two request-triggered refreshes. */
  readonly minRefreshIntervalMs: number;
  /** The first background retry delay after a failed first fetch. */
  readonly retryInitialMs: number;
  /** The cap of the background retry delay. */
  readonly retryMaxMs: number;
  /** Where failures and recoveries are reported. */
  readonly log: KeySetLogger;
  /** The largest response body read, in bytes (default 1 MiB). */
  readonly maxBytes?: number;
}

const DEFAULT_MAX_BYTES = 1024 * 1024;
const LOOPBACK_HOSTS: ReadonlySet<string> = new Set([
  "localhost",
  "127.0.0.1",
  "[::1]",
]);

/**
 * The URL of keys from an identity provider when `secret` is one: it starts
 * with `https://` or `http://` (any casing). Returns null for any other
 * secret, which is then a plain secret, a JWK or a JWKS.
 *
 * @throws {Error} when it starts like a URL but is not valid, or is `http://`
 *   on a host other than `localhost`, `127.0.0.1` or `[::1]`; the message
 *   never contains the URL
 */
export function keySetUrl(secret: string): URL | null {
  if (!/^https?:\/\//i.test(secret)) return null;
  let url: URL;
  try {
    url = new URL(secret);
  } catch {
    throw new Error("Invalid jwt-secret: it starts like a URL but is not one");
  }
  if (!isAllowedUrl(url)) {
    throw new Error(
      "Invalid jwt-secret: a key URL must use https:// (http:// only on localhost, 127.0.0.1 or [::1])",
    );
  }
  return url;
}

/** `https:`, or `http:` on a loopback host. */
function isAllowedUrl(url: URL): boolean {
  return url.protocol === "https:" ||
    (url.protocol === "http:" && LOOPBACK_HOSTS.has(url.hostname));
}

/** A failure to fetch keys; the message is safe to log. */
class KeySetFetchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KeySetFetchError";
  }
}

/** A fetched document: the status, and the JSON body when it parsed. */
interface Fetched {
  readonly ok: boolean;
  readonly status: number;
  readonly json: unknown;
}

/**
 * The keys behind a key URL, cached and refreshed as the module describes.
 * Call {@linkcode RemoteKeySet.start} once, and
 * {@linkcode RemoteKeySet.close} to stop background retries.
 */
export class RemoteKeySet<K> {
  readonly #url: URL;
  readonly #load: KeyLoader<K>;
  readonly #opts: RemoteKeySetOptions;
  #keys: readonly K[] = [];
  #jwksUrl: URL | null = null;
  #inflight: Promise<boolean> | null = null;
  #lastAttempt: number | null = null;
  #retryTimer: ReturnType<typeof setTimeout> | null = null;
  #retryDelay: number;
  #failing = false;
  #closed = false;

  constructor(url: URL, load: KeyLoader<K>, options: RemoteKeySetOptions) {
    this.#url = url;
    this.#load = load;
    this.#opts = options;
    this.#retryDelay = options.retryInitialMs;
  }

  /** The current keys; empty until a fetch succeeds. */
  get keys(): readonly K[] {
    return this.#keys;
  }

  /**
   * Fetches the keys for the first time. Never throws: on failure it logs,
   * schedules background retries and resolves to false.
   */
  async start(): Promise<boolean> {
    const ok = await this.#refresh();
    if (!ok) this.#scheduleRetry();
    return ok;
  }

  /**
   * Refreshes for a token whose key is unknown: joins a refresh in flight,
   * else starts one unless the last attempt was under
   * `minRefreshIntervalMs` ago. Resolves to true when keys were fetched.
   */
  refreshIfAllowed(): Promise<boolean> {
    if (this.#inflight !== null) return this.#inflight;
    const last = this.#lastAttempt;
    if (
      this.#closed ||
      (last !== null &&
        this.#opts.now() - last < this.#opts.minRefreshIntervalMs)
    ) {
      return Promise.resolve(false);
    }
    return this.#refresh();
  }

  /** Stops background retries; later refreshes do nothing. */
  close(): void {
    this.#closed = true;
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
  }

  /** One single-flight refresh; resolves to whether it succeeded. */
  #refresh(): Promise<boolean> {
    if (this.#inflight !== null) return this.#inflight;
    if (this.#closed) return Promise.resolve(false);
    this.#lastAttempt = this.#opts.now();
    const run = this.#attempt().finally(() => {
      this.#inflight = null;
    });
    this.#inflight = run;
    return run;
  }

  async #attempt(): Promise<boolean> {
    const origin = this.#url.origin;
    try {
      const keys = await this.#withDeadline((signal) =>
        this.#fetchKeys(signal)
      );
      this.#keys = keys;
      if (this.#failing) {
        this.#opts.log(
          "info",
          `jwt-secret: fetched ${keys.length} key(s) from ${origin}`,
        );
      }
      this.#failing = false;
      this.#retryDelay = this.#opts.retryInitialMs;
      if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
      this.#retryTimer = null;
      return true;
    } catch (e) {
      this.#jwksUrl = null;
      const reason = e instanceof KeySetFetchError ? e.message : "failed";
      const now = this.#keys.length === 0
        ? "every token is rejected until a fetch succeeds"
        : "the previous keys stay in use";
      this.#opts.log(
        this.#keys.length === 0 ? "error" : "warn",
        `jwt-secret: cannot fetch keys from ${origin}: ${reason}; ${now}`,
      );
      this.#failing = true;
      return false;
    }
  }

  /** Retries in the background, doubling the delay up to the cap. */
  #scheduleRetry(): void {
    if (this.#closed || this.#retryTimer !== null) return;
    const delay = this.#retryDelay;
    this.#retryDelay = Math.min(delay * 2, this.#opts.retryMaxMs);
    const id = setTimeout(() => {
      this.#retryTimer = null;
      if (this.#closed || this.#keys.length > 0) return;
      void this.#refresh().then((ok) => {
        if (!ok && this.#keys.length === 0) this.#scheduleRetry();
      });
    }, delay);
    // The retries must not keep the process alive on shutdown.
    id.unref();
    this.#retryTimer = id;
  }

  /** Runs `work` with an abort signal and one deadline. */
  async #withDeadline<T>(
    work: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.#opts.timeoutMs);
    const expired = new Promise<never>((_, reject) => {
      controller.signal.addEventListener("abort", () => {
        reject(new KeySetFetchError("timed out"));
      });
    });
    try {
      return await Promise.race([work(controller.signal), expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  async #fetchKeys(signal: AbortSignal): Promise<readonly K[]> {
    const remembered = this.#jwksUrl;
    if (remembered !== null) {
      const doc = await this.#get(remembered, signal);
      return await this.#keysOf(doc, "the JWKS");
    }
    const first = await this.#get(this.#url, signal);
    if (first.ok && isRecord(first.json) && Array.isArray(first.json["keys"])) {
      const keys = await this.#keysOf(first, "the JWKS");
      this.#jwksUrl = this.#url;
      return keys;
    }
    const discovery = first.ok && isRecord(first.json) &&
        typeof first.json["jwks_uri"] === "string"
      ? first
      : await this.#get(discoveryUrl(this.#url), signal);
    if (!discovery.ok) {
      throw new KeySetFetchError(
        `the discovery document answered HTTP ${discovery.status}`,
      );
    }
    const jwksUri = isRecord(discovery.json)
      ? discovery.json["jwks_uri"]
      : undefined;
    if (typeof jwksUri !== "string") {
      throw new KeySetFetchError(
        "neither a JWKS nor an OpenID discovery document with a jwks_uri",
      );
    }
    let target: URL;
    try {
      target = new URL(jwksUri);
    } catch {
      throw new KeySetFetchError("the jwks_uri is not a URL");
    }
    if (!isAllowedUrl(target)) {
      throw new KeySetFetchError(
        "the jwks_uri is neither https:// nor http:// on a loopback host",
      );
    }
    const keys = await this.#keysOf(
      await this.#get(target, signal),
      "the jwks_uri",
    );
    this.#jwksUrl = target;
    return keys;
  }

  async #keysOf(doc: Fetched, what: string): Promise<readonly K[]> {
    if (!doc.ok) {
      throw new KeySetFetchError(`${what} answered HTTP ${doc.status}`);
    }
    if (!isRecord(doc.json) || !Array.isArray(doc.json["keys"])) {
      throw new KeySetFetchError(`${what} is not a JWKS`);
    }
    const keys = await this.#load(doc.json);
    if (keys.length === 0) {
      throw new KeySetFetchError(`${what} has no usable signature key`);
    }
    return keys;
  }

  /** GETs `url` as JSON; throws only when there is no usable answer. */
  async #get(url: URL, signal: AbortSignal): Promise<Fetched> {
    let res: Response;
    try {
      res = await this.#opts.fetch(url, {
        headers: { accept: "application/json" },
        redirect: "follow",
        signal,
      });
    } catch {
      throw new KeySetFetchError(
        signal.aborted ? "timed out" : "the request failed",
      );
    }
    if (res.url !== "" && !isAllowedUrl(new URL(res.url))) {
      await res.body?.cancel();
      throw new KeySetFetchError("redirected to a URL that is not allowed");
    }
    if (!res.ok) {
      await res.body?.cancel();
      return { ok: false, status: res.status, json: undefined };
    }
    const bytes = await readCapped(
      res,
      this.#opts.maxBytes ?? DEFAULT_MAX_BYTES,
    );
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      json = undefined;
    }
    return { ok: true, status: res.status, json };
  }
}

/** `<issuer>/.well-known/openid-configuration`, without query or fragment. */
function discoveryUrl(issuer: URL): URL {
  const u = new URL(issuer.href);
  u.pathname = `${
    u.pathname.replace(/\/+$/, "")
  }/.well-known/openid-configuration`;
  u.search = "";
  u.hash = "";
  return u;
}

async function readCapped(res: Response, max: number): Promise<Uint8Array> {
  const body = res.body;
  if (body === null) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > max) {
        await reader.cancel();
        throw new KeySetFetchError(`the response is larger than ${max} bytes`);
      }
      chunks.push(value);
    }
  } catch (e) {
    if (e instanceof KeySetFetchError) throw e;
    throw new KeySetFetchError("the response body could not be read");
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
