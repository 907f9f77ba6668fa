/**
 * Owns the statements that run before the main query in every request
 * transaction: one `set_config` SELECT for the search path, role, JWT
 * claims, request method/path/headers/cookies, time zone and app settings
 * (every value a bind parameter), then the `db-pre-request` call.
 *
 * Pure.
 *
 * @module
 */

import {
  ident,
  join,
  param,
  qi,
  render,
  type Sql,
  sql,
  type Statement,
} from "./sql.ts";

/** The request context placed into transaction-local settings. */
export interface TxVars {
  readonly searchPath: readonly string[];
  readonly role: string;
  readonly claims: Readonly<Record<string, unknown>>;
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly cookies: Readonly<Record<string, string>>;
  readonly timezone: string | null;
  readonly appSettings: Readonly<Record<string, string>>;
  /**
   * Settings of the request's role (`ALTER ROLE … SET`) and hoisted settings
   * of the called function, applied before the role switch.
   */
  readonly settings?: readonly (readonly [string, string])[];
  /**
   * Makes the transaction read-only (`transaction_read_only`), so that a
   * transaction without BEGIN … READ ONLY needs no statement of its own.
   */
  readonly readOnly?: boolean;
}

/** The `set_config` statement. */
export function txVarsStatement(v: TxVars): Sql {
  const searchPath = v.searchPath.map((s) => render(ident(s)).text).join(", ");
  const sets: Sql[] = [
    ...(v.readOnly === true
      ? [sql`set_config('transaction_read_only', 'on', true)`]
      : []),
    sql`set_config('search_path', ${param(searchPath)}, true)`,
    ...(v.settings ?? []).map(([k, val]) =>
      sql`set_config(${param(k)}, ${param(val)}, true)`
    ),
    sql`set_config('role', ${param(v.role)}, true)`,
    sql`set_config('request.jwt.claims', ${
      param(JSON.stringify(v.claims))
    }, true)`,
    sql`set_config('request.method', ${param(v.method)}, true)`,
    sql`set_config('request.path', ${param(v.path)}, true)`,
    sql`set_config('request.headers', ${
      param(JSON.stringify(v.headers))
    }, true)`,
    sql`set_config('request.cookies', ${
      param(JSON.stringify(v.cookies))
    }, true)`,
  ];
  if (v.timezone !== null) {
    sets.push(sql`set_config('timezone', ${param(v.timezone)}, true)`);
  }
  for (const [k, val] of Object.entries(v.appSettings)) {
    sets.push(
      sql`set_config(${param(`app.settings.${k}`)}, ${param(val)}, true)`,
    );
  }
  // one row, no columns read back: the values need not travel twice
  return sql`SELECT 1 FROM (SELECT ${join(sets)}) AS pgrst_vars`;
}

const txVarsTexts = new Map<string, string>();

/**
 * Texts that depend on the configuration or the JWT only, by the array or
 * object they come from: the rendered search path (the handler passes one
 * array per schema and configuration) and the claims' JSON (a token's
 * claims are one object while its verification is cached).
 */
const searchPathTexts = new WeakMap<readonly string[], string>();
const claimsTexts = new WeakMap<object, string>();

function searchPathText(path: readonly string[]): string {
  let text = searchPathTexts.get(path);
  if (text === undefined) {
    text = path.map((s) => render(ident(s)).text).join(", ");
    searchPathTexts.set(path, text);
  }
  return text;
}

function claimsText(claims: Readonly<Record<string, unknown>>): string {
  let text = claimsTexts.get(claims);
  if (text === undefined) {
    text = JSON.stringify(claims);
    claimsTexts.set(claims, text);
  }
  return text;
}

function txVarsParams(v: TxVars): unknown[] {
  const params: unknown[] = [searchPathText(v.searchPath)];
  const settings = v.settings;
  if (settings !== undefined) {
    for (let i = 0; i < settings.length; i++) {
      const s = settings[i] as readonly [string, string];
      params.push(s[0], s[1]);
    }
  }
  params.push(
    v.role,
    claimsText(v.claims),
    v.method,
    v.path,
    JSON.stringify(v.headers),
    JSON.stringify(v.cookies),
  );
  if (v.timezone !== null) params.push(v.timezone);
  for (const k in v.appSettings) {
    params.push(`app.settings.${k}`, v.appSettings[k]);
  }
  return params;
}

/**
 * The rendered `set_config` statement: the same text and parameters as
 * `render(txVarsStatement(v))`, with the text built once per shape.
 */
export function renderTxVars(v: TxVars): Statement {
  const key = `${v.readOnly === true ? "r" : "w"}${
    v.timezone === null ? 0 : 1
  }:${Object.keys(v.appSettings).length}:${v.settings?.length ?? 0}`;
  let text = txVarsTexts.get(key);
  if (text === undefined) {
    text = render(txVarsStatement(v)).text;
    txVarsTexts.set(key, text);
  }
  return { text, params: txVarsParams(v) };
}

/** Splits `schema.function` (either part may be double-quoted). */
export function splitQualified(
  name: string,
): { schema: string | null; name: string } {
  const m = /^(?:("(?:[^"]|"")*"|[^."]*)\.)?("(?:[^"]|"")*"|[^."]*)$/.exec(
    name,
  );
  const unq = (s: string): string =>
    s.startsWith('"') ? s.slice(1, -1).replaceAll('""', '"') : s;
  if (!m) return { schema: null, name };
  return {
    schema: m[1] === undefined ? null : unq(m[1]),
    name: unq(m[2] ?? ""),
  };
}

/** The `db-pre-request` call. */
export function preRequestStatement(fn: string): Sql {
  const { schema, name } = splitQualified(fn);
  const ref = schema === null ? ident(name) : qi(schema, name);
  return sql`SELECT ${ref}()`;
}

/**
 * The `db-pre-config` call: the function runs (its `set_config` calls last
 * for the statement's transaction) and each of `names` is read back, null
 * when it did not set it. As PostgREST's `queryDbSettings`.
 */
export function preConfigStatement(
  fn: string,
  names: readonly string[],
): Sql {
  const { schema, name } = splitQualified(fn);
  const ref = schema === null ? ident(name) : qi(schema, name);
  const x = ident("pgrst_name");
  return sql`SELECT ${x} AS name, current_setting(${x}, true) AS value FROM unnest(${
    param([...names])
  }::text[]) AS ${x} JOIN ${ref}() AS ${ident("pgrst_pre")} ON TRUE`;
}
