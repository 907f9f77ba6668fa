/**
 * Tests for the error module: the SQLSTATE → HTTP status table (PostgREST's
 * `mapSQLtoHTTP`, including 42501 as 401 or 403 and `PTxyz` statuses),
 * `fromPgError` bodies and headers, `RAISE SQLSTATE 'PGRST'` parsing
 * (PGRST121), and the PGRST constructors' messages.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  anonymousDisabled,
  fromPgError,
  invalidRange,
  invalidSchema,
  jwtClaimsError,
  jwtDecodeError,
  parseError,
  PgrstError,
  singularityError,
  sqlStateStatus,
  tableNotFound,
} from "./error.ts";

// ---------------------------------------------------------------- statuses

Deno.test("sqlStateStatus() maps SQLSTATEs as PostgREST's mapSQLtoHTTP", () => {
  const table: [code: string, status: number, message?: string][] = [
    ["08000", 503], // connection_exception
    ["08006", 503],
    ["09000", 500], // triggered_action_exception
    ["0L000", 403], // invalid_grantor
    ["0LP01", 403],
    ["0P000", 403], // invalid_role_specification
    ["23503", 409], // foreign_key_violation
    ["23505", 409], // unique_violation
    ["23502", 400], // not_null_violation
    ["23514", 400], // check_violation
    ["25006", 405], // read_only_sql_transaction
    ["25001", 500], // active_sql_transaction
    ["25P02", 500],
    ["28000", 403], // invalid_authorization_specification
    ["28P01", 403],
    ["2D000", 500], // invalid_transaction_termination
    ["38000", 500], // external_routine_exception
    ["39000", 500], // external_routine_invocation_exception
    ["3B000", 500], // savepoint_exception
    ["40001", 500], // serialization_failure
    ["40P01", 500], // deadlock_detected
    ["53000", 503], // insufficient_resources
    ["53100", 503], // disk_full
    ["53300", 503], // too_many_connections
    ["53400", 500], // configuration_limit_exceeded
    ["54000", 500], // program_limit_exceeded
    ["55P03", 500], // lock_not_available
    ["57014", 500], // query_canceled
    ["57P01", 503], // admin_shutdown
    ["58030", 500], // io_error
    ["F0000", 500], // config_file_error
    ["HV000", 500], // fdw_error
    ["P0001", 400], // raise_exception
    ["P0002", 500], // no_data_found
    ["P0004", 500], // assert_failure
    ["XX000", 500], // internal_error
    ["42883", 404], // undefined_function
    ["42P01", 404], // undefined_table
    ["42P17", 500], // invalid_object_definition
    ["42703", 400], // undefined_column
    ["42601", 400], // syntax_error
    ["22P02", 400], // invalid_text_representation
    ["22001", 400], // string_data_right_truncation
    ["22023", 400, 'invalid value for parameter "TimeZone": "Invalid/Zone"'],
    ["21000", 500, "more than one row returned by a subquery"],
    ["PT402", 402],
    ["PT418", 418],
    ["PT500", 500],
    ["PTABC", 500],
  ];
  for (const [code, status, message] of table) {
    assert.equal(
      sqlStateStatus(code, message ?? "some message", false),
      status,
      code,
    );
  }
});

Deno.test("sqlStateStatus() answers 42501 with 401 without a token, 403 with one", () => {
  assert.equal(
    sqlStateStatus("42501", "permission denied for table secrets", false),
    401,
  );
  assert.equal(
    sqlStateStatus("42501", "permission denied for table secrets", true),
    403,
  );
});

Deno.test("sqlStateStatus() answers a missing role with 401", () => {
  assert.equal(
    sqlStateStatus("22023", 'role "nobody" does not exist', true),
    401,
  );
  assert.equal(
    sqlStateStatus("22023", 'role "nobody" does not exist', false),
    401,
  );
});

Deno.test("sqlStateStatus() answers 21000 with 400 only for a missing WHERE clause", () => {
  assert.equal(
    sqlStateStatus("21000", "DELETE requires a WHERE clause", false),
    400,
  );
  assert.equal(
    sqlStateStatus("21000", "UPDATE requires a WHERE clause", false),
    400,
  );
  assert.equal(
    sqlStateStatus("21000", "cardinality violation", false),
    500,
  );
});

Deno.test("sqlStateStatus() answers xmlagg's missing function with 406", () => {
  assert.equal(
    sqlStateStatus("42883", "function xmlagg(integer) does not exist", false),
    406,
  );
  assert.equal(
    sqlStateStatus("42883", "function api.nope() does not exist", false),
    404,
  );
});

// ---------------------------------------------------------------- fromPgError

Deno.test("fromPgError() keeps code, message, detail and hint", () => {
  const e = fromPgError({
    code: "23505",
    message: 'duplicate key value violates unique constraint "items_pkey"',
    detail: "Key (id)=(1) already exists.",
    hint: "try another id",
  }, true);
  assert.ok(e instanceof PgrstError);
  assert.equal(e.status, 409);
  assert.deepEqual(e.body(), {
    code: "23505",
    details: "Key (id)=(1) already exists.",
    hint: "try another id",
    message: 'duplicate key value violates unique constraint "items_pkey"',
  });
  assert.deepEqual(e.headers, []);
});

Deno.test("fromPgError() sets details and hint to null when absent", () => {
  const e = fromPgError(
    { code: "42P17", message: "infinite recursion" },
    false,
  );
  assert.equal(e.status, 500);
  assert.deepEqual(e.body(), {
    code: "42P17",
    details: null,
    hint: null,
    message: "infinite recursion",
  });
});

Deno.test("fromPgError() answers anonymous 42501 with 401 and WWW-Authenticate", () => {
  const e = fromPgError({
    code: "42501",
    message: "permission denied for table secrets",
  }, false);
  assert.equal(e.status, 401);
  assert.deepEqual(e.headers, [["WWW-Authenticate", "Bearer"]]);
  assert.deepEqual(e.body(), {
    code: "42501",
    details: null,
    hint: null,
    message: "permission denied for table secrets",
  });
});

Deno.test("fromPgError() challenges every 401: a missing JWT role and PT401", () => {
  const role = fromPgError({
    code: "22023",
    message: 'role "nobody" does not exist',
  }, true);
  assert.equal(role.status, 401);
  assert.deepEqual(role.headers, [["WWW-Authenticate", "Bearer"]]);
  const raised = fromPgError({ code: "PT401", message: "go away" }, true);
  assert.equal(raised.status, 401);
  assert.deepEqual(raised.headers, [["WWW-Authenticate", "Bearer"]]);
  const other = fromPgError({ code: "22023", message: "bad value" }, true);
  assert.deepEqual(other.headers, []);
});

Deno.test("fromPgError() answers authenticated 42501 with 403 and no challenge", () => {
  const e = fromPgError({
    code: "42501",
    message: "permission denied for table private_table",
  }, true);
  assert.equal(e.status, 403);
  assert.deepEqual(e.headers, []);
});

Deno.test("fromPgError() uses the status of a PTxyz code", () => {
  const e = fromPgError({ code: "PT402", message: "Payment Required" }, false);
  assert.equal(e.status, 402);
  assert.equal(e.code, "PT402");
});

Deno.test("fromPgError() reads RAISE SQLSTATE 'PGRST' with JSON message and detail", () => {
  const e = fromPgError({
    code: "PGRST",
    message: JSON.stringify({
      code: "123",
      message: "Payment Required",
      details: "Quota exceeded",
      hint: "Upgrade your plan",
    }),
    detail: JSON.stringify({
      status: 402,
      headers: { "X-Powered-By": "Nerd Rage" },
    }),
  }, false);
  assert.equal(e.status, 402);
  assert.deepEqual(e.body(), {
    code: "123",
    details: "Quota exceeded",
    hint: "Upgrade your plan",
    message: "Payment Required",
  });
  assert.deepEqual(e.headers, [["X-Powered-By", "Nerd Rage"]]);
});

Deno.test("fromPgError() reads RAISE SQLSTATE 'PGRST' without optional keys", () => {
  const e = fromPgError({
    code: "PGRST",
    message: '{"code":"ABC","message":"nope"}',
    detail: '{"status":418,"headers":{}}',
  }, false);
  assert.equal(e.status, 418);
  assert.deepEqual(e.body(), {
    code: "ABC",
    details: null,
    hint: null,
    message: "nope",
  });
  assert.deepEqual(e.headers, []);
});

Deno.test("fromPgError() answers a non-JSON PGRST message with PGRST121", () => {
  // RpcSpec: raise_sqlstate_invalid_json_message
  const e = fromPgError({
    code: "PGRST",
    message: "INVALID",
    detail: '{"status":400,"headers":{}}',
  }, false);
  assert.equal(e.status, 500);
  assert.deepEqual(e.body(), {
    code: "PGRST121",
    details: "Invalid JSON value for MESSAGE: 'INVALID'",
    hint:
      "MESSAGE must be a JSON object with obligatory keys: 'code', 'message' and optional keys: 'details', 'hint'.",
    message: `Could not parse JSON in the "RAISE SQLSTATE 'PGRST'" error`,
  });
});

Deno.test("fromPgError() answers a PGRST raise without DETAIL with PGRST121", () => {
  // RpcSpec: raise_sqlstate_missing_details
  const e = fromPgError({
    code: "PGRST",
    message: '{"code":"123","message":"Internal Error"}',
  }, false);
  assert.equal(e.status, 500);
  assert.deepEqual(e.body(), {
    code: "PGRST121",
    details: "DETAIL is missing in the RAISE statement",
    hint:
      "DETAIL must be a JSON object with obligatory keys: 'status', 'headers' and optional key: 'status_text'.",
    message: `Could not parse JSON in the "RAISE SQLSTATE 'PGRST'" error`,
  });
});

Deno.test("fromPgError() answers an invalid PGRST DETAIL with PGRST121", () => {
  for (const detail of ["INVALID", '{"headers":{}}', '{"status":"402"}']) {
    const e = fromPgError({
      code: "PGRST",
      message: '{"code":"123","message":"m"}',
      detail,
    }, false);
    assert.equal(e.status, 500, detail);
    assert.equal(e.code, "PGRST121", detail);
    assert.equal(e.details, `Invalid JSON value for DETAIL: '${detail}'`);
  }
});

// ---------------------------------------------------------------- PgrstError

Deno.test("PgrstError.body() is verbose by default and minimal on request", () => {
  const e = tableNotFound("api", "itemz", "items");
  assert.deepEqual(e.body(), {
    code: "PGRST205",
    details: null,
    hint: "Perhaps you meant the table 'api.items'",
    message: "Could not find the table 'api.itemz' in the schema cache",
  });
  assert.deepEqual(e.body("minimal"), {
    code: "PGRST205",
    message: "Could not find the table 'api.itemz' in the schema cache",
  });
});

Deno.test("PgrstError is an Error with its name, status and code", () => {
  const e = parseError("m", "d");
  assert.ok(e instanceof Error);
  assert.equal(e.name, "PgrstError");
  assert.equal(e.status, 400);
  assert.equal(e.code, "PGRST100");
  assert.equal(e.message, "m");
  assert.equal(e.details, "d");
  assert.equal(e.hint, null);
});

Deno.test("tableNotFound() has no hint without a suggestion", () => {
  const e = tableNotFound("api", "projxxxx", null);
  assert.equal(e.status, 404);
  assert.equal(e.hint, null);
});

Deno.test("invalidSchema() lists the exposed schemas in the hint", () => {
  const e = invalidSchema("unknown", ["v1", "v2", 'SPECIAL "@/\\#~_-']);
  assert.equal(e.status, 406);
  assert.deepEqual(e.body(), {
    code: "PGRST106",
    details: null,
    hint: 'Only the following schemas are exposed: v1, v2, SPECIAL "@/\\#~_-',
    message: "Invalid schema: unknown",
  });
});

Deno.test("singularityError() counts the rows in the details", () => {
  const e = singularityError(6);
  assert.equal(e.status, 406);
  assert.deepEqual(e.body(), {
    code: "PGRST116",
    details: "The result contains 6 rows",
    hint: null,
    message: "Cannot coerce the result to a single JSON object",
  });
  assert.equal(singularityError(0).details, "The result contains 0 rows");
});

Deno.test("invalidRange() is 416 PGRST103 with the reason in details", () => {
  const e = invalidRange(
    "An offset of 100 was requested, but there are only 15 rows.",
  );
  assert.equal(e.status, 416);
  assert.deepEqual(e.body(), {
    code: "PGRST103",
    details: "An offset of 100 was requested, but there are only 15 rows.",
    hint: null,
    message: "Requested range not satisfiable",
  });
});

Deno.test("JWT errors are 401 with an invalid_token challenge", () => {
  const expired = jwtClaimsError("JWT expired");
  assert.equal(expired.status, 401);
  assert.equal(expired.code, "PGRST303");
  assert.deepEqual(expired.headers, [[
    "WWW-Authenticate",
    'Bearer error="invalid_token", error_description="JWT expired"',
  ]]);
  const decode = jwtDecodeError('bad "quote" \\ here');
  assert.equal(decode.code, "PGRST301");
  assert.deepEqual(decode.headers, [[
    "WWW-Authenticate",
    'Bearer error="invalid_token", error_description="bad \\"quote\\" \\\\ here"',
  ]]);
  const anon = anonymousDisabled();
  assert.equal(anon.status, 401);
  assert.equal(anon.code, "PGRST302");
  assert.deepEqual(anon.headers, [["WWW-Authenticate", "Bearer"]]);
});
