/**
 * Tests of bench/pgbench.ts's pure parts: reading statements and their
 * parameters back from a PostgreSQL statement log, and writing them as a
 * pgbench script.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  parseLogParameters,
  parseStatementLog,
  pgbenchScript,
} from "./pgbench.ts";

const P = (pid: number, app: string) => `@@bench@@${pid}@@${app}@@ `;

Deno.test("log parameters: quoted values with doubled quotes, NULL", () => {
  assert.deepEqual(
    parseLogParameters(`$1 = 'it''s', $2 = NULL, $3 = '{"a": 1}'`),
    ["it's", null, '{"a": 1}'],
  );
});

Deno.test("log parameters: another shape is an error", () => {
  assert.throws(() => parseLogParameters(`$2 = 'x'`));
  assert.throws(() => parseLogParameters(`$1 = x`));
});

Deno.test("statement log: a BEGIN block of the app, other apps ignored", () => {
  const log = [
    `${P(7, "psql")}LOG:  statement: select 1`,
    `${P(9, "pgrest")}LOG:  statement: BEGIN ISOLATION LEVEL READ COMMITTED`,
    `${
      P(9, "pgrest")
    }LOG:  execute <unnamed>: SELECT set_config('role', $1, true)`,
    `${P(9, "pgrest")}DETAIL:  parameters: $1 = 'anon'`,
    `${P(9, "pgrest")}LOG:  execute s1: UPDATE t`,
    `SET x = $1`,
    `${P(9, "pgrest")}DETAIL:  parameters: $1 = '5'`,
    `${P(9, "pgrest")}LOG:  statement: COMMIT`,
    "",
  ].join("\n");
  assert.deepEqual(parseStatementLog(log, "pgrest"), [
    { text: "BEGIN ISOLATION LEVEL READ COMMITTED", params: [] },
    { text: "SELECT set_config('role', $1, true)", params: ["anon"] },
    { text: "UPDATE t\nSET x = $1", params: ["5"] },
    { text: "COMMIT", params: [] },
  ]);
});

Deno.test("statement log: without BEGIN, every statement of one backend", () => {
  const log = [
    `${
      P(9, "pgrest")
    }LOG:  execute <unnamed>: SELECT set_config('role', $1, true)`,
    `${P(9, "pgrest")}DETAIL:  parameters: $1 = 'anon'`,
    `${P(9, "pgrest")}LOG:  execute <unnamed>: SELECT 1`,
  ].join("\n");
  assert.deepEqual(parseStatementLog(log, "pgrest").map((s) => s.text), [
    "SELECT set_config('role', $1, true)",
    "SELECT 1",
  ]);
  assert.throws(() => parseStatementLog(log, "other"));
  assert.throws(() =>
    parseStatementLog(
      `${log}\n${P(10, "pgrest")}LOG:  execute <unnamed>: SELECT 2`,
      "pgrest",
    )
  );
});

Deno.test("pgbench script: parameters become -D variables, drawn values random", () => {
  const { script, defines } = pgbenchScript(
    [
      { text: "SELECT set_config('role', $1, true)", params: ["anon"] },
      {
        text: "SELECT * FROM t WHERE id = $1::int LIMIT $2",
        params: ["501", "25"],
      },
    ],
    [{ lo: 1, hi: 1000, value: "501" }],
    "a test",
  );
  assert.deepEqual(defines, [["q1_1", "anon"], ["q2_2", "25"]]);
  assert.equal(
    script,
    [
      "-- a test",
      "\\set r1 random(1, 1000)",
      "\\startpipeline",
      "SELECT set_config('role', :q1_1, true);",
      "SELECT * FROM t WHERE id = :r1::int LIMIT :q2_2;",
      "\\endpipeline",
      "",
    ].join("\n"),
  );
});

Deno.test("pgbench script: what pgbench cannot send is an error", () => {
  assert.throws(() =>
    pgbenchScript([{ text: "SELECT $1", params: [null] }], [], "")
  );
  assert.throws(() =>
    pgbenchScript([{ text: "SELECT 'a:b'", params: [] }], [], "")
  );
});
