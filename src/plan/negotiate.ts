/**
 * Owns content negotiation: choosing the output media type of a response
 * from the request's Accept list, or PGRST107.
 *
 * Pure.
 *
 * @module
 */

import { mediaTypeError } from "../error.ts";

/** What the body is rendered as. */
export interface OutputMedia {
  readonly kind: "json" | "singular" | "csv" | "text" | "xml";
  readonly stripNulls: boolean;
  /** The Content-Type header value. */
  readonly contentType: string;
}

const JSON_CT = "application/json; charset=utf-8";

function params(mt: string): { base: string; nullsStripped: boolean } {
  const [base = "", ...ps] = mt.split(";").map((s) => s.trim());
  return {
    base,
    nullsStripped: ps.some((p) => p.toLowerCase() === "nulls=stripped"),
  };
}

/**
 * Picks the first acceptable media type.
 * @throws {PgrstError} PGRST107
 */
export function negotiate(
  accept: readonly string[],
  action: "read" | "scalar" | "xml",
): OutputMedia {
  for (const mt of accept) {
    const { base, nullsStripped } = params(mt);
    switch (base) {
      case "*/*":
      case "application/*":
      case "application/json":
        return { kind: "json", stripNulls: false, contentType: JSON_CT };
      case "application/vnd.pgrst.array+json":
        return {
          kind: "json",
          stripNulls: nullsStripped,
          contentType: nullsStripped
            ? "application/vnd.pgrst.array+json;nulls=stripped; charset=utf-8"
            : JSON_CT,
        };
      case "application/vnd.pgrst.object+json":
      case "application/vnd.pgrst.object":
        return {
          kind: "singular",
          stripNulls: nullsStripped,
          contentType: nullsStripped
            ? "application/vnd.pgrst.object+json;nulls=stripped; charset=utf-8"
            : "application/vnd.pgrst.object+json; charset=utf-8",
        };
      case "text/plain":
        if (action === "scalar") {
          return {
            kind: "text",
            stripNulls: false,
            contentType: "text/plain; charset=utf-8",
          };
        }
        break;
      case "text/xml":
        if (action === "xml") {
          return {
            kind: "xml",
            stripNulls: false,
            contentType: "text/xml; charset=utf-8",
          };
        }
        break;
      case "text/csv":
      case "text/*":
        return {
          kind: "csv",
          stripNulls: false,
          contentType: "text/csv; charset=utf-8",
        };
    }
  }
  throw mediaTypeError(accept);
}
