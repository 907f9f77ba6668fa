/**
 * Owns the request resource limits (beyond PostgREST), each a config key
 * with a default in `DEFAULT_CONFIG`: the request body size (checked from
 * Content-Length before reading, and while reading), the URL length, the
 * size of the header section, the size of the select tree (embed depth and
 * item count), the request timeout (which also caps the transaction's
 * `statement_timeout`) and the number of requests handled at once, each with
 * a PostgREST-style error (PGRST150 to PGRST155).
 *
 * Pure, but for `readBody`, which reads the request's stream.
 *
 * @module
 */

import type { SelectItem } from "./api_request/types.ts";
import { type Config, DEFAULT_CONFIG } from "./config/types.ts";
import { PgrstError } from "./error.ts";

/** The defaults (the same values as `DEFAULT_CONFIG`). */
export const LIMITS = {
  /** Bytes of request body. */
  maxBodyBytes: DEFAULT_CONFIG.serverMaxBodyBytes,
  /** Characters of path and query string. */
  maxUrlLength: DEFAULT_CONFIG.serverMaxUrlLength,
  /** Levels of nested embedding. */
  maxEmbedDepth: DEFAULT_CONFIG.serverMaxEmbedDepth,
  /** Items of `select`, embeds included, at every level together. */
  maxSelectItems: DEFAULT_CONFIG.serverMaxSelectItems,
} as const;

/** The keys of `Config` that bound the select tree. */
export type SelectLimits = Pick<
  Config,
  "serverMaxEmbedDepth" | "serverMaxSelectItems"
>;

/** 413: the body is larger than allowed. */
export function bodyTooLarge(limit: number): PgrstError {
  return new PgrstError(413, "PGRST150", "Request body too large", {
    details: `The body must not exceed ${limit} bytes`,
  });
}

/** 414: the URL is longer than allowed. */
export function urlTooLong(limit: number): PgrstError {
  return new PgrstError(414, "PGRST151", "URI too long", {
    details: `The path and query string must not exceed ${limit} characters`,
  });
}

/**
 * Checks the select tree's depth and size (`server-max-embed-depth`,
 * `server-max-select-items`).
 * @throws {PgrstError} 400 PGRST152
 */
export function checkSelectSize(
  items: readonly SelectItem[],
  limits: SelectLimits = DEFAULT_CONFIG,
): void {
  const maxDepth = limits.serverMaxEmbedDepth;
  const maxItems = limits.serverMaxSelectItems;
  let count = 0;
  const walk = (list: readonly SelectItem[], depth: number): void => {
    if (depth > maxDepth) {
      throw new PgrstError(400, "PGRST152", "Select too complex", {
        details: `Embedding is limited to ${maxDepth} levels`,
      });
    }
    for (const it of list) {
      count++;
      if (count > maxItems) {
        throw new PgrstError(400, "PGRST152", "Select too complex", {
          details: `The select list is limited to ${maxItems} items`,
        });
      }
      if (it.kind === "embed") walk(it.select, depth + 1);
    }
  };
  walk(items, 0);
}

/** 431: the request's header section is larger than allowed. */
export function headersTooLarge(limit: number): PgrstError {
  return new PgrstError(
    431,
    "PGRST153",
    "Request header fields too large",
    { details: `The request headers must not exceed ${limit} bytes` },
  );
}

/**
 * The size of a header section as sent: each `name: value` line with its
 * CRLF (the request line excluded).
 */
export function headerBytes(headers: Headers): number {
  let size = 0;
  headers.forEach((value, name) => {
    size += name.length + value.length + 4;
  });
  return size;
}

/** 504: the request took longer than `server-request-timeout`. */
export function requestTimedOut(seconds: number): PgrstError {
  return new PgrstError(504, "PGRST154", "Request timed out", {
    details: `The request did not finish within ${seconds} seconds`,
  });
}

/** 503: more requests at once than `server-max-concurrent-requests`. */
export function tooManyRequests(limit: number): PgrstError {
  return new PgrstError(503, "PGRST155", "Too many concurrent requests", {
    details: `The server handles at most ${limit} requests at once`,
    headers: [["Retry-After", "1"]],
  });
}

/**
 * 503: more connections open than `server-max-connections` (the connection
 * guard answers it and closes the connection).
 */
export function tooManyConnections(limit: number): PgrstError {
  return new PgrstError(503, "PGRST155", "Too many connections", {
    details: `The server keeps at most ${limit} connections open`,
    headers: [["Retry-After", "1"]],
  });
}

const TIMEOUT_UNITS: Readonly<Record<string, number>> = {
  us: 0.001,
  ms: 1,
  s: 1000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * A `statement_timeout` value in milliseconds (`'1s'`, `'250ms'`, `'5min'`,
 * a bare number of milliseconds), or null when PostgreSQL's syntax is not
 * recognised. `0` means no timeout.
 */
export function timeoutMillis(value: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value);
  if (m === null) return null;
  const unit = (m[2] ?? "").toLowerCase();
  const factor = unit === "" ? 1 : TIMEOUT_UNITS[unit];
  if (factor === undefined) return null;
  return Number(m[1]) * factor;
}

/**
 * Caps the `statement_timeout` among a transaction's settings at
 * `server-request-timeout`, so a statement never outlives the request it
 * answers: the role's or function's value stays when it is shorter (and
 * not 0). Other settings pass unchanged; no limit (0) changes nothing.
 */
export function capStatementTimeout(
  settings: readonly (readonly [string, string])[],
  requestTimeoutSeconds: number,
): (readonly [string, string])[] {
  if (requestTimeoutSeconds <= 0) return [...settings];
  const cap = requestTimeoutSeconds * 1000;
  const out: (readonly [string, string])[] = [];
  let seen = false;
  for (const [k, v] of settings) {
    if (k !== "statement_timeout") {
      out.push([k, v]);
      continue;
    }
    seen = true;
    const ms = timeoutMillis(v);
    out.push(ms !== null && ms > 0 && ms <= cap ? [k, v] : [k, `${cap}ms`]);
  }
  if (!seen) out.push(["statement_timeout", `${cap}ms`]);
  return out;
}

/** The client went away (or broke the stream) mid-upload. */
function bodyUnreadable(): PgrstError {
  return new PgrstError(400, "PGRST102", "The request body could not be read");
}

/**
 * Reads a request body, refusing it before reading when Content-Length is
 * too large and while reading when the stream exceeds the limit.
 * @throws {PgrstError} 413 PGRST150; 400 PGRST102 when the stream fails
 */
export async function readBody(
  request: Request,
  limit: number = LIMITS.maxBodyBytes,
): Promise<Uint8Array> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) throw bodyTooLarge(limit);
  if (declared !== null) {
    // framed by Content-Length (within the limit): the HTTP server delivers
    // no more than that, and reading it whole skips the JavaScript stream
    // reader (a promise and an op per chunk, then one more for the end).
    // A Request made in-process may carry more than it declares: checked.
    let bytes: Uint8Array;
    try {
      bytes = await request.bytes();
    } catch {
      throw bodyUnreadable();
    }
    if (bytes.byteLength > limit) throw bodyTooLarge(limit);
    return bytes;
  }
  const stream = request.body;
  if (stream === null) return new Uint8Array();
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    let next: ReadableStreamReadResult<Uint8Array>;
    try {
      next = await reader.read();
    } catch {
      // the client went away (or broke the stream) mid-upload
      throw bodyUnreadable();
    }
    const { done, value } = next;
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw bodyTooLarge(limit);
    }
    chunks.push(value);
  }
  if (chunks.length === 1 && chunks[0] !== undefined) return chunks[0];
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}
