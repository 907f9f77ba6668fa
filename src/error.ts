/**
 * Owns every failure pgrest reports to a client: the `PgrstError` class with
 * its PGRST code, HTTP status and PostgREST-shaped JSON body, the constructors
 * for each PGRST code, and the mapping of PostgreSQL errors (SQLSTATE) and
 * connection failures to statuses, as PostgREST's `Error.hs` does.
 *
 * Pure: no I/O. Messages never contain tokens, secrets or SQL parameters.
 *
 * @module
 */

import {
  headerValueBytes,
  isHeaderName,
  isHeaderValue,
  isSettableHeader,
} from "./response/header_safety.ts";

/** The JSON body of an error response. */
export interface ErrorBody {
  readonly code: string;
  readonly message: string;
  readonly details: unknown;
  readonly hint: unknown;
}

/** A failure with a status, a PostgREST error body and extra headers. */
export class PgrstError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;
  readonly hint: unknown;
  readonly headers: readonly (readonly [string, string])[];

  constructor(
    status: number,
    code: string,
    message: string,
    opts: {
      details?: unknown;
      hint?: unknown;
      headers?: readonly (readonly [string, string])[];
    } = {},
  ) {
    super(message);
    this.name = "PgrstError";
    this.status = status;
    this.code = code;
    this.details = opts.details ?? null;
    this.hint = opts.hint ?? null;
    this.headers = opts.headers ?? [];
  }

  /** The response body, verbose (four keys) or minimal (code and message). */
  body(verbosity: "verbose" | "minimal" = "verbose"): ErrorBody | {
    code: string;
    message: string;
  } {
    if (verbosity === "minimal") {
      return { code: this.code, message: this.message };
    }
    return {
      code: this.code,
      details: this.details,
      hint: this.hint,
      message: this.message,
    };
  }
}

// ---------------------------------------------------------------- PGRST1xx

/** PGRST100: the query string could not be parsed. */
export function parseError(message: string, details: string): PgrstError {
  return new PgrstError(400, "PGRST100", message, { details });
}

/** PGRST101: a method RPC does not allow. */
export function rpcMethodError(method: string): PgrstError {
  return new PgrstError(
    405,
    "PGRST101",
    `Cannot use the ${method} method on RPC`,
  );
}

/** PGRST102: the request body is invalid. */
export function invalidBody(message: string): PgrstError {
  return new PgrstError(400, "PGRST102", message);
}

/** PGRST103: the requested range cannot be satisfied. */
export function invalidRange(details: string): PgrstError {
  return new PgrstError(416, "PGRST103", "Requested range not satisfiable", {
    details,
  });
}

/** PGRST106: a schema that is not exposed was asked for. */
export function invalidSchema(
  schema: string,
  exposed: readonly string[],
): PgrstError {
  return new PgrstError(406, "PGRST106", `Invalid schema: ${schema}`, {
    hint: `Only the following schemas are exposed: ${exposed.join(", ")}`,
  });
}

/** PGRST107: none of the accepted media types can be produced. */
export function mediaTypeError(accepted: readonly string[]): PgrstError {
  return new PgrstError(
    406,
    "PGRST107",
    `None of these media types are available: ${accepted.join(", ")}`,
  );
}

/** PGRST108: a filter names a resource that is not embedded. */
export function notEmbedded(name: string): PgrstError {
  return new PgrstError(
    400,
    "PGRST108",
    `'${name}' is not an embedded resource in this request`,
    {
      hint:
        `Verify that '${name}' is included in the 'select' query parameter.`,
    },
  );
}

/** PGRST116: a singular response was asked for but not exactly one row. */
export function singularityError(rows: number): PgrstError {
  return new PgrstError(
    406,
    "PGRST116",
    "Cannot coerce the result to a single JSON object",
    { details: `The result contains ${rows} rows` },
  );
}

/** PGRST117: an HTTP method pgrest does not support. */
export function unsupportedMethod(method: string): PgrstError {
  return new PgrstError(
    405,
    "PGRST117",
    `Unsupported HTTP method: ${method}`,
  );
}

/** PGRST122: invalid preferences with `handling=strict`. */
export function invalidPreferences(prefs: readonly string[]): PgrstError {
  return new PgrstError(
    400,
    "PGRST122",
    "Invalid preferences given with handling=strict",
    { details: `Invalid preferences: ${prefs.join(", ")}` },
  );
}

/** PGRST123: aggregates are disabled. */
export function aggregatesNotAllowed(): PgrstError {
  return new PgrstError(
    400,
    "PGRST123",
    "Use of aggregate functions is not allowed",
  );
}

/** PGRST125: the path does not name a resource. */
export function invalidPath(): PgrstError {
  return new PgrstError(
    404,
    "PGRST125",
    "Invalid path specified in request URL",
  );
}

/** PGRST127: a feature that is not implemented. */
export function notImplemented(details: string): PgrstError {
  return new PgrstError(400, "PGRST127", "Feature not implemented", {
    details,
  });
}

// ---------------------------------------------------------------- PGRST2xx

/** PGRST204: a column that does not exist. */
export function columnNotFound(column: string, relation: string): PgrstError {
  return new PgrstError(
    400,
    "PGRST204",
    `Could not find the '${column}' column of '${relation}' in the schema cache`,
  );
}

/** PGRST205: a table or view that does not exist. */
export function tableNotFound(
  schema: string,
  table: string,
  suggestion: string | null,
): PgrstError {
  return new PgrstError(
    404,
    "PGRST205",
    `Could not find the table '${schema}.${table}' in the schema cache`,
    {
      hint: suggestion === null
        ? null
        : `Perhaps you meant the table '${schema}.${suggestion}'`,
    },
  );
}

// ---------------------------------------------------------------- PGRST3xx

const BEARER = "WWW-Authenticate";

function invalidTokenHeader(message: string): readonly [string, string] {
  return [
    BEARER,
    `Bearer error="invalid_token", error_description="${
      message.replaceAll("\\", "\\\\").replaceAll('"', '\\"')
    }"`,
  ];
}

/** PGRST300: a token arrived but no secret is configured. */
export function missingJwtSecret(): PgrstError {
  return new PgrstError(500, "PGRST300", "Server lacks JWT secret");
}

/** PGRST301: the token could not be decoded or verified. */
export function jwtDecodeError(message: string): PgrstError {
  return new PgrstError(401, "PGRST301", message, {
    headers: [invalidTokenHeader(message)],
  });
}

/** PGRST302: no token and no anonymous role. */
export function anonymousDisabled(): PgrstError {
  return new PgrstError(401, "PGRST302", "Anonymous access is disabled", {
    headers: [[BEARER, "Bearer"]],
  });
}

/** PGRST303: the token's claims are not acceptable. */
export function jwtClaimsError(message: string): PgrstError {
  return new PgrstError(401, "PGRST303", message, {
    headers: [invalidTokenHeader(message)],
  });
}

// ---------------------------------------------------------------- database

/** PGRST000/001/002/003: the database or the pool is unavailable. */
export function connectionError(details: string | null): PgrstError {
  return new PgrstError(
    503,
    "PGRST001",
    "Database client error. Retrying the connection.",
    {
      details,
      headers: [["Retry-After", "1"]],
    },
  );
}

/** PGRST002: the schema cache is not loaded yet. */
export function schemaCacheNotLoaded(): PgrstError {
  return new PgrstError(
    503,
    "PGRST002",
    "Could not query the database for the schema cache. Retrying.",
    { headers: [["Retry-After", "1"]] },
  );
}

/** PGRST003: no pool connection within the acquisition timeout. */
export function poolTimeout(): PgrstError {
  return new PgrstError(
    504,
    "PGRST003",
    "Timed out acquiring connection from connection pool.",
  );
}

/** The fields of a PostgreSQL error that pgrest reports. */
export interface PgErrorFields {
  readonly code: string;
  readonly message: string;
  readonly detail?: string | undefined;
  readonly hint?: string | undefined;
}

/**
 * HTTP status for a SQLSTATE, as PostgREST's `mapSQLtoHTTP` (first match
 * wins). `authenticated` decides 42501 (401 without a token, 403 with one).
 */
export function sqlStateStatus(
  code: string,
  message: string,
  authenticated: boolean,
): number {
  const p2 = code.slice(0, 2);
  if (p2 === "08") return 503;
  if (p2 === "09") return 500;
  if (p2 === "0L" || p2 === "0P") return 403;
  if (code === "23503" || code === "23505") return 409;
  if (code === "25006") return 405;
  if (code === "21000") {
    return message.endsWith("requires a WHERE clause") ? 400 : 500;
  }
  if (code === "22023") {
    return /^role .* does not exist$/.test(message) ? 401 : 400;
  }
  if (p2 === "25" || p2 === "2D" || p2 === "38" || p2 === "39") return 500;
  if (p2 === "28") return 403;
  if (p2 === "3B" || p2 === "40") return 500;
  if (code === "53400") return 500;
  if (p2 === "53") return 503;
  if (p2 === "54" || p2 === "55") return 500;
  // admin shutdown, crash shutdown, cannot connect now (starting/stopping)
  if (code === "57P01" || code === "57P02" || code === "57P03") return 503;
  if (p2 === "57" || p2 === "58" || p2 === "F0" || p2 === "HV") return 500;
  if (code === "P0001") return 400;
  if (p2 === "P0" || p2 === "XX") return 500;
  if (code === "42883") {
    return message.startsWith("function xmlagg(") ? 406 : 404;
  }
  if (code === "42P01") return 404;
  if (code === "42P17") return 500;
  if (code === "42501") return authenticated ? 403 : 401;
  if (/^PT\d\d\d$/.test(code)) return Number(code.slice(2));
  if (code.startsWith("PT")) return 500;
  return 400;
}

/** Converts a PostgreSQL error into the client's error response. */
export function fromPgError(
  e: PgErrorFields,
  authenticated: boolean,
): PgrstError {
  if (e.code === "PGRST") return fromRaisePgrst(e);
  const status = sqlStateStatus(e.code, e.message, authenticated);
  const headers: (readonly [string, string])[] = [];
  // PostgREST challenges every 401 from the database (42501 without a token,
  // a JWT role that does not exist, PT401)
  if (status === 401) headers.push([BEARER, "Bearer"]);
  return new PgrstError(status, e.code, e.message, {
    details: e.detail ?? null,
    hint: e.hint ?? null,
    headers,
  });
}

function fromRaisePgrst(e: PgErrorFields): PgrstError {
  const hintText =
    "MESSAGE must be a JSON object with obligatory keys: 'code', 'message' and optional keys: 'details', 'hint'.";
  let msg: unknown;
  try {
    msg = JSON.parse(e.message);
  } catch {
    msg = undefined;
  }
  if (!isRecord(msg)) {
    return new PgrstError(
      500,
      "PGRST121",
      `Could not parse JSON in the "RAISE SQLSTATE 'PGRST'" error`,
      {
        details: `Invalid JSON value for MESSAGE: '${e.message}'`,
        hint: hintText,
      },
    );
  }
  if (e.detail === undefined) {
    return new PgrstError(
      500,
      "PGRST121",
      `Could not parse JSON in the "RAISE SQLSTATE 'PGRST'" error`,
      {
        details: "DETAIL is missing in the RAISE statement",
        hint:
          "DETAIL must be a JSON object with obligatory keys: 'status', 'headers' and optional key: 'status_text'.",
      },
    );
  }
  let det: unknown;
  try {
    det = JSON.parse(e.detail);
  } catch {
    det = undefined;
  }
  if (
    !isRecord(det) || typeof det["status"] !== "number" ||
    !Number.isInteger(det["status"]) || det["status"] < 200 ||
    det["status"] > 599 || !safeHeaders(det["headers"])
  ) {
    return new PgrstError(
      500,
      "PGRST121",
      `Could not parse JSON in the "RAISE SQLSTATE 'PGRST'" error`,
      {
        details: `Invalid JSON value for DETAIL: '${e.detail}'`,
        hint:
          "DETAIL must be a JSON object with obligatory keys: 'status', 'headers' and optional key: 'status_text'.",
      },
    );
  }
  const headers: [string, string][] = [];
  const h = det["headers"];
  if (isRecord(h)) {
    for (const [k, v] of Object.entries(h)) {
      if (typeof v === "string" && isSettableHeader(k)) {
        headers.push([k, headerValueBytes(v)]);
      }
    }
  }
  return new PgrstError(
    det["status"],
    typeof msg["code"] === "string" ? msg["code"] : "",
    typeof msg["message"] === "string" ? msg["message"] : "",
    { details: msg["details"] ?? null, hint: msg["hint"] ?? null, headers },
  );
}

/**
 * Whether the headers of a `RAISE SQLSTATE 'PGRST'` DETAIL can be sent:
 * string values need valid names and no control characters (CR/LF would
 * split the response).
 */
function safeHeaders(h: unknown): boolean {
  if (!isRecord(h)) return true;
  return Object.entries(h).every(([k, v]) =>
    typeof v !== "string" || (isHeaderName(k) && isHeaderValue(v))
  );
}

/** Narrows an unknown value to a plain JSON object. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
