/**
 * Owns type names in casts (`col::text`). A cast is accepted only when it is
 * a run of letters, digits, `_` and single inner spaces (e.g.
 * `double precision`), optionally followed by `[]`. It is rendered as an
 * identifier quoted by `ident` (ASCII letters folded to lower case, as
 * PostgreSQL folds an unquoted name), except for the type names that only
 * the SQL grammar knows (`int`, `double precision`, `timestamp with time
 * zone`, …), which come from a closed list and stay bare. So a cast to a
 * keyword (`::select`) is a missing type (42704), never a syntax error.
 *
 * Pure.
 *
 * @module
 */

import { PgrstError } from "../error.ts";
import { ident, keyword, type Sql, sql } from "./sql.ts";

const CAST = /^[\p{L}_][\p{L}\p{N}_]*( [\p{L}_][\p{L}\p{N}_]*)*(\[\])?$/u;

/**
 * Validates a cast type name.
 * @throws {PgrstError} PGRST100 for anything else
 */
export function castType(name: string): string {
  if (!CAST.test(name)) {
    throw new PgrstError(400, "PGRST100", `Invalid cast type: ${name}`);
  }
  return name;
}

/**
 * Type names written with SQL keywords: PostgreSQL's grammar turns them into
 * catalog types (`int` is `int4`), so they cannot be quoted.
 */
const GRAMMAR_TYPES: ReadonlySet<string> = new Set([
  "int",
  "integer",
  "smallint",
  "bigint",
  "real",
  "float",
  "double precision",
  "decimal",
  "dec",
  "numeric",
  "boolean",
  "bit",
  "bit varying",
  "char",
  "character",
  "char varying",
  "character varying",
  "varchar",
  "nchar",
  "nchar varying",
  "national char",
  "national character",
  "national char varying",
  "national character varying",
  "time",
  "time with time zone",
  "time without time zone",
  "timestamp",
  "timestamp with time zone",
  "timestamp without time zone",
  "interval",
  "json",
]);

/**
 * The SQL of a cast's type: a grammar type name bare, any other name
 * quoted, then `[]` when given.
 * @throws {PgrstError} PGRST100 when `castType` rejects the name
 */
export function castSql(name: string): Sql {
  const valid = castType(name);
  const array = valid.endsWith("[]");
  const base = (array ? valid.slice(0, -2) : valid)
    .replace(/[A-Z]/g, (ch) => ch.toLowerCase());
  const type = GRAMMAR_TYPES.has(base) ? keyword(base) : ident(base);
  return array ? sql`${type}[]` : type;
}
