/**
 * Owns content negotiation: choosing the output media type of a response
 * from the request's Accept list, or PGRST107.
 *
 * Pure.
 *
 * @module
 */

import { mediaTypeBase } from "../api_request/media_type.ts";
import { mediaTypeError } from "../error.ts";
import type { MediaHandler } from "../schema_cache/types.ts";

/** What the body is rendered as. */
export interface OutputMedia {
  readonly kind:
    | "json"
    | "singular"
    | "csv"
    | "text"
    | "xml"
    | "raw"
    | "geojson";
  readonly stripNulls: boolean;
  /** The Content-Type header value. */
  readonly contentType: string;
  /**
   * Raw output: the binary send function (schema, name) whose bytes are the
   * body, or null for the value's text.
   */
  readonly send?: readonly [string, string] | null;
  /** Raw output of a media type handler: the aggregate (schema, name). */
  readonly handler?: readonly [string, string] | null;
  /**
   * Set for `application/vnd.pgrst.plan`: the EXPLAIN of the statement that
   * would produce `kind` is returned instead.
   */
  readonly explain?: {
    readonly format: "json" | "text";
    readonly options: readonly ExplainOption[];
  };
}

/** EXPLAIN options a client may ask for. */
export type ExplainOption =
  | "analyze"
  | "verbose"
  | "settings"
  | "buffers"
  | "wal";
const EXPLAIN_OPTIONS: readonly ExplainOption[] = [
  "analyze",
  "verbose",
  "settings",
  "buffers",
  "wal",
];

function paramValue(mt: string, name: string): string | null {
  for (const p of mt.split(";").slice(1)) {
    const i = p.indexOf("=");
    if (i < 0) continue;
    if (p.slice(0, i).trim().toLowerCase() === name) {
      return p.slice(i + 1).trim().replace(/^"(.*)"$/, "$1");
    }
  }
  return null;
}

/**
 * The plan media type, or null when `mt` is not one. `innerOf` resolves the
 * `for=` media type (built-in types by default).
 * @throws {PgrstError} PGRST107 when `for=` names no available type
 */
function planMedia(
  mt: string,
  action: "read" | "scalar" | "xml",
  innerOf: (forType: string) => OutputMedia = (t) =>
    negotiate([t], action, { planEnabled: false }),
): OutputMedia | null {
  const base = mediaTypeBase(mt);
  let format: "json" | "text";
  if (base === "application/vnd.pgrst.plan+json") format = "json";
  else if (
    base === "application/vnd.pgrst.plan+text" ||
    base === "application/vnd.pgrst.plan"
  ) format = "text";
  else return null;
  const forType = paramValue(mt, "for") ?? "application/json";
  const inner = innerOf(forType);
  const options: ExplainOption[] = [];
  for (const o of (paramValue(mt, "options") ?? "").split("|")) {
    const found = EXPLAIN_OPTIONS.find((x) => x === o.trim().toLowerCase());
    if (found !== undefined && !options.includes(found)) options.push(found);
  }
  const innerType = mediaTypeBase(inner.contentType);
  const opts = options.length > 0 ? `; options=${options.join("|")}` : "";
  return {
    ...inner,
    contentType:
      `application/vnd.pgrst.plan+${format}; for="${innerType}"${opts}; charset=utf-8`,
    explain: { format, options },
  };
}

const JSON_CT = "application/json; charset=utf-8";

function params(mt: string): { base: string; nullsStripped: boolean } {
  // no parameters (e.g. */*): nothing to split
  if (!mt.includes(";")) {
    return { base: mediaTypeBase(mt), nullsStripped: false };
  }
  const ps = mt.split(";").slice(1).map((s) => s.trim().toLowerCase());
  return {
    base: mediaTypeBase(mt),
    nullsStripped: ps.includes("nulls=stripped"),
  };
}

/** Media types whose Content-Type carries `charset=utf-8` (as PostgREST's). */
const CHARSET_TYPES = new Set([
  "application/json",
  "application/geo+json",
  "text/plain",
  "text/xml",
  "text/csv",
]);

/** The Content-Type header of raw output in media type `base`. */
function rawContentType(base: string): string {
  return CHARSET_TYPES.has(base) ? `${base}; charset=utf-8` : base;
}

/**
 * For a function returning a domain named after a media type (PostgREST's
 * media type handlers for scalars): raw output when the client accepts it.
 * A `*\/*` domain accepts anything and answers application/octet-stream.
 * Returns null when this function has no such return type.
 * @throws {PgrstError} PGRST107 when the type is not acceptable
 */
export function negotiateDomain(
  accept: readonly string[],
  returnType: string,
  send: readonly [string, string] | null,
): OutputMedia | null {
  if (!returnType.includes("/")) return null;
  const raw = (ct: string): OutputMedia => ({
    kind: "raw",
    stripNulls: false,
    contentType: rawContentType(ct),
    send,
  });
  if (returnType === "*/*") return raw("application/octet-stream");
  for (const mt of accept) {
    const base = mediaTypeBase(mt);
    if (base === returnType || base === "*/*") return raw(returnType);
    const [type = "", sub = ""] = returnType.split("/");
    if (base === `${type}/*` && sub !== "") return raw(returnType);
  }
  return null;
}

/**
 * For rows of `target` (a table, view or a function's row type): the media
 * type handler (an aggregate) for the first Accept entry one answers, when
 * no earlier entry is answered by a built-in type. A handler for the table
 * wins over an anyelement one, but only for whole rows (no narrowing
 * `select`: its rows must be the table's type); `application/vnd.pgrst.*` types are never
 * overridden. Returns null to let `negotiate` choose.
 */
export function negotiateHandler(
  accept: readonly string[],
  handlers: readonly MediaHandler[],
  target: { readonly schema: string; readonly name: string },
  wholeRows: boolean,
  opts: { readonly planEnabled: boolean } = { planEnabled: false },
): OutputMedia | null {
  if (handlers.length === 0) return null;
  for (const mt of accept) {
    const base = mediaTypeBase(mt);
    if (opts.planEnabled && base.startsWith("application/vnd.pgrst.plan")) {
      // EXPLAIN of a handler's statement: `for=` names the handler's type
      const forType = paramValue(mt, "for");
      if (forType === null) return null;
      const inner = negotiateHandler([forType], handlers, target, wholeRows);
      return inner === null ? null : planMedia(mt, "read", () => inner);
    }
    if (base.startsWith("application/vnd.pgrst.")) return null;
    const h = handlers.find((x) =>
      wholeRows && x.mediaType === base && x.target !== null &&
      x.target.schema === target.schema && x.target.name === target.name
    ) ?? handlers.find((x) =>
      x.mediaType === base && x.target === null
    );
    if (h !== undefined) {
      return {
        kind: "raw",
        stripNulls: false,
        contentType: rawContentType(base),
        send: h.send,
        handler: [h.schema, h.name],
      };
    }
    if (builtinMedia(mt, "read") !== null) return null;
  }
  return null;
}

/**
 * Picks the first acceptable media type.
 * @throws {PgrstError} PGRST107
 */
export function negotiate(
  accept: readonly string[],
  action: "read" | "scalar" | "xml",
  opts: { readonly planEnabled: boolean } = { planEnabled: false },
): OutputMedia {
  for (const mt of accept) {
    if (opts.planEnabled) {
      const plan = planMedia(mt, action);
      if (plan !== null) return plan;
    }
    const media = builtinMedia(mt, action);
    if (media !== null) return media;
  }
  throw mediaTypeError(accept);
}

/** The built-in media type answering one Accept entry, or null. */
function builtinMedia(
  mt: string,
  action: "read" | "scalar" | "xml",
): OutputMedia | null {
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
    case "application/geo+json":
      // PostGIS: a FeatureCollection built by ST_AsGeoJSON
      if (action === "read") {
        return {
          kind: "geojson",
          stripNulls: false,
          contentType: "application/geo+json; charset=utf-8",
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
  return null;
}
