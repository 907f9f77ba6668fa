/**
 * Tests of what the request handler counts as the database being down.
 *
 * @module
 */

import assert from "node:assert/strict";
import { isConnectionFailure } from "./app.ts";
import { PgrstError } from "./error.ts";

Deno.test("isConnectionFailure: no connection, a shutdown or a class-08 error mark the database down; a busy pool or a query error do not", () => {
  const err = (code: string, status = 503) => new PgrstError(status, code, "x");
  for (const code of ["PGRST001", "57P01", "57P02", "57P03", "08006"]) {
    assert.equal(isConnectionFailure(err(code)), true, code);
  }
  for (const code of ["PGRST003", "42501", "57014", "PGRST154"]) {
    assert.equal(isConnectionFailure(err(code, 504)), false, code);
  }
  assert.equal(isConnectionFailure(new Error("PGRST001")), false);
});
