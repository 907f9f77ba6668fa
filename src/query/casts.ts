/**
 * Owns the one exception to identifier quoting: type names in casts
 * (`col::text`), which PostgreSQL does not accept quoted in every form.
 * A cast is accepted only when it is a run of letters, digits, `_` and
 * single inner spaces (e.g. `double precision`), optionally followed by
 * `[]`, so no request text can leave the type position.
 *
 * Pure.
 *
 * @module
 */

import { PgrstError } from "../error.ts";

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
