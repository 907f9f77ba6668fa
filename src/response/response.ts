/**
 * Owns turning a statement's result into the HTTP response: status (200,
 * 206, 416, or `response.status`), Content-Range, Content-Type,
 * Preference-Applied, headers set from SQL through `response.headers`, and
 * the singular-object check.
 *
 * Pure.
 *
 * @module
 */

import {
  headerValueBytes,
  isHeaderName,
  isHeaderValue,
  isSettableHeader,
  quotedHeaderText,
} from "./header_safety.ts";
import type { ApiRequest, RangeSpec } from "../api_request/types.ts";
import { invalidRange, PgrstError, singularityError } from "../error.ts";
import type { MutatePlan } from "../plan/mutate.ts";
import type { ReadPlan } from "../plan/plan.ts";

/** What PostgreSQL returned for the main statement. */
export interface ResultRow {
  readonly tableTotal: number | null;
  readonly pageTotal: number;
  readonly body: string;
  readonly gucHeaders: string | null;
  readonly gucStatus: string | null;
  /** Rows a write inserted (not updated), when known. */
  readonly inserted: number | null;
  /** The primary key of the first written row, as JSON, for Location. */
  readonly location: string | null;
}

/** The result of a statement that was not run. */
export function emptyResult(): ResultRow {
  return {
    tableTotal: 0,
    pageTotal: 0,
    body: "[]",
    gucHeaders: null,
    gucStatus: null,
    inserted: 0,
    location: null,
  };
}

/** A response before it becomes a `Response`. */
export interface ApiResponse {
  readonly status: number;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: string | Uint8Array<ArrayBuffer> | null;
}

function num(v: unknown): number | null {
  if (v === null || v === undefined) return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

/** Reads the main statement's one row. */
export function resultRow(row: Record<string, unknown> | undefined): ResultRow {
  return {
    tableTotal: num(row?.["total_result_set"]),
    pageTotal: num(row?.["page_total"]) ?? 0,
    body: typeof row?.["body"] === "string" ? row["body"] : "",
    gucHeaders: typeof row?.["response_headers"] === "string"
      ? row["response_headers"]
      : null,
    gucStatus: typeof row?.["response_status"] === "string"
      ? row["response_status"]
      : null,
    inserted: num(row?.["inserted"]),
    location: typeof row?.["location"] === "string" ? row["location"] : null,
  };
}

/**
 * Parses `response.headers`: a JSON array of one-key objects with string
 * values. Names must be HTTP tokens and values free of control characters
 * (CR and LF included); Content-Length, Transfer-Encoding and hop-by-hop
 * headers are dropped; text beyond Latin-1 is sent as UTF-8 bytes.
 * @throws {PgrstError} PGRST111
 */
export function gucHeaders(text: string | null): [string, string][] {
  if (text === null) return [];
  const bad = new PgrstError(
    500,
    "PGRST111",
    "response.headers guc must be a JSON array composed of objects with a single key and a string value",
  );
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw bad;
  }
  if (!Array.isArray(v)) throw bad;
  const out: [string, string][] = [];
  for (const o of v) {
    if (typeof o !== "object" || o === null || Array.isArray(o)) throw bad;
    const entries = Object.entries(o);
    if (entries.length !== 1) throw bad;
    const [k, val] = entries[0] ?? ["", null];
    if (typeof val !== "string" || !isHeaderName(k) || !isHeaderValue(val)) {
      throw bad;
    }
    // framing and hop-by-hop headers stay the server's: SQL cannot change
    // the body length or the connection
    if (!isSettableHeader(k)) continue;
    out.push([k, headerValueBytes(val)]);
  }
  return out;
}

/**
 * Adds headers set by SQL: a header the server already set (e.g.
 * Content-Type) is replaced rather than repeated.
 */
export function withGucHeaders(
  headers: [string, string][],
  guc: readonly [string, string][],
): void {
  if (guc.length === 0) return;
  const names = new Set(guc.map(([k]) => k.toLowerCase()));
  for (let i = headers.length - 1; i >= 0; i--) {
    const h = headers[i];
    if (h !== undefined && names.has(h[0].toLowerCase())) headers.splice(i, 1);
  }
  headers.push(...guc);
}

/** Decodes a base64 body rendered by SQL for a binary media type. */
function decodeBinary(b64: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

/**
 * Parses `response.status`.
 * @throws {PgrstError} PGRST112
 */
export function gucStatus(text: string | null): number | null {
  if (text === null) return null;
  const n = Number(text);
  // 1xx are interim responses: one cannot be the final answer
  if (!/^\d+$/.test(text.trim()) || n < 200 || n > 599) {
    throw new PgrstError(
      500,
      "PGRST112",
      "response.status guc must be a valid status code",
    );
  }
  return n;
}

/** The Content-Range value and status for a read. */
export function rangeStatus(
  range: RangeSpec,
  pageTotal: number,
  tableTotal: number | null,
): { status: number; contentRange: string } {
  const lower = range.offset;
  const upper = lower + pageTotal - 1;
  const totalText = tableTotal === null ? "*" : String(tableTotal);
  const rangeText = tableTotal !== 0 && lower <= upper
    ? `${lower}-${upper}`
    : "*";
  let status = 200;
  if (tableTotal !== null) {
    if (lower > tableTotal) status = 416;
    else if (1 + upper - lower < tableTotal) status = 206;
  }
  return { status, contentRange: `${rangeText}/${totalText}` };
}

/** Preference-Applied for the preferences that took effect. */
export function preferenceApplied(
  req: ApiRequest,
  txOverride: boolean,
): string | null {
  const p = req.prefs;
  const out: string[] = [];
  if (p.resolution !== null) out.push(`resolution=${p.resolution}`);
  if (p.missing !== null) out.push(`missing=${p.missing}`);
  if (p.return !== null) out.push(`return=${p.return}`);
  if (p.count !== null && req.method !== "GET" && req.method !== "HEAD") {
    out.push(`count=${p.count}`);
  }
  if (p.tx !== null && txOverride) out.push(`tx=${p.tx}`);
  if (p.handling !== null) out.push(`handling=${p.handling}`);
  if (p.timezone !== null) out.push(`timezone=${p.timezone}`);
  if (p.maxAffected !== null && p.handling === "strict") {
    out.push(`max-affected=${p.maxAffected}`);
  }
  return out.length === 0 ? null : out.join(", ");
}

/**
 * The agent of `Warning` headers (RFC 7234 `299` warnings): the PostgREST
 * version whose API pgrest serves.
 */
export const WARN_AGENT = "PostgRESTv16-pgrest";

/**
 * Builds the response of a read.
 * @throws {PgrstError} PGRST103, PGRST111, PGRST112, PGRST116
 */
export function readResponse(
  req: ApiRequest,
  plan: ReadPlan,
  row: ResultRow,
  opts: { txOverride: boolean },
): ApiResponse {
  const headers: [string, string][] = [];
  const counted = plan.count !== null;
  const { status: rStatus, contentRange } = rangeStatus(
    plan.node.range,
    row.pageTotal,
    row.tableTotal,
  );
  if (rStatus === 416) {
    const e = invalidRange(
      `An offset of ${plan.node.range.offset} was requested, but there are only ${row.tableTotal} rows.`,
    );
    throw new PgrstError(e.status, e.code, e.message, {
      details: e.details,
      headers: [["Content-Range", `*/${row.tableTotal}`]],
    });
  }
  if (!counted && row.tableTotal !== null) {
    return readResponse(req, plan, { ...row, tableTotal: null }, opts);
  }
  if (plan.media.kind === "singular" && row.pageTotal !== 1) {
    throw singularityError(row.pageTotal);
  }
  headers.push(["Content-Range", contentRange]);
  headers.push(["Content-Type", plan.media.contentType]);
  if (req.method === "GET" || req.method === "HEAD") {
    headers.push(["Content-Location", req.canonical]);
  }
  const applied = preferenceApplied(req, opts.txOverride);
  if (applied !== null) headers.push(["Preference-Applied", applied]);
  if (req.profileGiven) headers.push(["Content-Profile", req.schema]);
  if (plan.warning !== undefined) {
    headers.push([
      "Warning",
      `299 ${WARN_AGENT} ${quotedHeaderText(plan.warning)}`,
    ]);
  }
  withGucHeaders(headers, gucHeaders(row.gucHeaders));
  if (plan.call?.shape === "void") {
    const st = gucStatus(row.gucStatus) ?? 204;
    return {
      status: st,
      headers: headers.filter(([k]) =>
        k !== "Content-Type" && k !== "Content-Range"
      ),
      body: null,
    };
  }
  const status = gucStatus(row.gucStatus) ?? rStatus;
  const body = plan.headOnly
    ? null
    : plan.media.kind === "raw" && (plan.media.send ?? null) !== null
    ? decodeBinary(row.body)
    : row.body;
  return { status, headers, body };
}

/** `/table?k1=eq.v1&k2=is.null` from the first written row's key. */
export function locationHeader(table: string, pkJson: string): string {
  const parsed: unknown = JSON.parse(pkJson);
  const obj = typeof parsed === "object" && parsed !== null
    ? parsed as Record<string, unknown>
    : {};
  const parts = Object.entries(obj).map(([k, v]) => {
    const value = v === null
      ? "is.null"
      : `eq.${typeof v === "string" ? v : JSON.stringify(v)}`;
    return `${encodeURIComponent(k)}=${
      encodeURIComponent(value).replaceAll("%2E", ".")
    }`;
  });
  return `/${encodeURIComponent(table)}?${parts.join("&")}`;
}

/**
 * Builds the response of a write.
 * @throws {PgrstError} PGRST116 (singular, not one row), PGRST124
 *   (max-affected with handling=strict), PGRST111, PGRST112
 */
export function mutateResponse(
  req: ApiRequest,
  plan: MutatePlan,
  row: ResultRow,
  opts: { txOverride: boolean },
): ApiResponse {
  const affected = row.tableTotal ?? row.pageTotal;
  if (plan.media.kind === "singular" && affected !== 1) {
    throw singularityError(affected);
  }
  const max = req.prefs.maxAffected;
  if (req.prefs.handling === "strict" && max !== null && affected > max) {
    throw new PgrstError(
      400,
      "PGRST124",
      "Query result exceeds max-affected preference constraint",
      { details: `The query affects ${affected} rows` },
    );
  }
  const headers: [string, string][] = [];
  const total = plan.count === "exact" ? String(affected) : "*";
  if (plan.op === "insert" || plan.op === "delete") {
    headers.push(["Content-Range", `*/${total}`]);
  } else {
    headers.push([
      "Content-Range",
      affected > 0 ? `0-${affected - 1}/${total}` : `*/${total}`,
    ]);
  }
  if (row.location !== null && plan.method === "POST") {
    headers.push(["Location", locationHeader(plan.table.name, row.location)]);
  }
  const representation = plan.returnMode === "representation";
  if (representation) headers.push(["Content-Type", plan.media.contentType]);
  const applied = preferenceApplied(
    {
      ...req,
      prefs: {
        ...req.prefs,
        resolution: plan.applied.resolution ? req.prefs.resolution : null,
        missing: plan.applied.missing ? req.prefs.missing : null,
      },
    },
    opts.txOverride,
  );
  if (applied !== null) headers.push(["Preference-Applied", applied]);
  if (req.profileGiven) headers.push(["Content-Profile", req.schema]);
  withGucHeaders(headers, gucHeaders(row.gucHeaders));
  let status: number;
  if (plan.method === "POST") {
    // an upsert that merged every row (or had none) answers 200
    status = plan.onConflict?.action === "merge" && row.inserted === 0
      ? 200
      : 201;
  } else if (plan.method === "PUT") {
    status = representation ? (row.inserted === 0 ? 200 : 201) : 204;
  } else {
    status = representation ? 200 : 204;
  }
  status = gucStatus(row.gucStatus) ?? status;
  let body: string | null = null;
  if (representation) {
    body = plan.noop ? (plan.media.kind === "singular" ? "" : "[]") : row.body;
  }
  return { status, headers, body };
}

/**
 * The checks on a function call's result that roll it back: a singular
 * response that is not one row, and `max-affected` with handling=strict.
 * @throws {PgrstError} PGRST116, PGRST124, PGRST128
 */
export function callChecks(
  req: ApiRequest,
  plan: ReadPlan,
  row: ResultRow,
): void {
  if (
    plan.media.kind === "singular" && plan.call?.shape === "set" &&
    row.pageTotal !== 1
  ) {
    throw singularityError(row.pageTotal);
  }
  const max = req.prefs.maxAffected;
  if (req.prefs.handling !== "strict" || max === null) return;
  const shape = plan.call?.shape;
  if (shape !== "set" && shape !== "scalar-set") {
    throw new PgrstError(
      400,
      "PGRST128",
      "Function must return SETOF or TABLE when max-affected preference is used with handling=strict",
    );
  }
  if (row.pageTotal > max) {
    throw new PgrstError(
      400,
      "PGRST124",
      "Query result exceeds max-affected preference constraint",
      { details: `The query affects ${row.pageTotal} rows` },
    );
  }
}
