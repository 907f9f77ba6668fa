/**
 * Owns the request resource limits (beyond PostgREST): the request body size
 * (checked from Content-Length before reading, and while reading), the URL
 * length, and the size of the select tree (embed depth and item count), each
 * with a PostgREST-style error.
 *
 * @module
 */

import type { SelectItem } from "./api_request/types.ts";
import { PgrstError } from "./error.ts";

/** Defaults: generous for real clients, small enough to bound the work. */
export const LIMITS = {
  /** Bytes of request body. */
  maxBodyBytes: 10 * 1024 * 1024,
  /** Characters of path and query string. */
  maxUrlLength: 16 * 1024,
  /** Levels of nested embedding. */
  maxEmbedDepth: 16,
  /** Items of `select`, embeds included, at every level together. */
  maxSelectItems: 1024,
} as const;

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
 * Checks the select tree's depth and size.
 * @throws {PgrstError} 400 PGRST152
 */
export function checkSelectSize(
  items: readonly SelectItem[],
  limits: { maxEmbedDepth: number; maxSelectItems: number } = LIMITS,
): void {
  let count = 0;
  const walk = (list: readonly SelectItem[], depth: number): void => {
    if (depth > limits.maxEmbedDepth) {
      throw new PgrstError(400, "PGRST152", "Select too complex", {
        details: `Embedding is limited to ${limits.maxEmbedDepth} levels`,
      });
    }
    for (const it of list) {
      count++;
      if (count > limits.maxSelectItems) {
        throw new PgrstError(400, "PGRST152", "Select too complex", {
          details:
            `The select list is limited to ${limits.maxSelectItems} items`,
        });
      }
      if (it.kind === "embed") walk(it.select, depth + 1);
    }
  };
  walk(items, 0);
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
      throw new PgrstError(
        400,
        "PGRST102",
        "The request body could not be read",
      );
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
