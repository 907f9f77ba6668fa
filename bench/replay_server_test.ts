/**
 * Tests of bench/replay_server.ts's pure parts: the numbers at a path
 * template's slots in a request path, where each captured parameter's value
 * comes from (a slot, the request body, a constant), the parameters bound
 * for a request, the route picked among those sharing a path, and the
 * replay file's shape.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  bindParams,
  compileRoute,
  paramSources,
  parseReplayFile,
  pickRoute,
  type ReplayRoute,
  requestSteps,
  slotValues,
} from "./replay_server.ts";

const SETTINGS = "SELECT set_config('role', $1, true)";

function route(over: Partial<ReplayRoute>): ReplayRoute {
  return {
    name: "r",
    method: "GET",
    path: "/items?id=eq.{int:1:100000}",
    status: 200,
    answerBody: true,
    statements: [
      { text: SETTINGS, params: ["bench_anon"] },
      { text: "SELECT $1 AS body", params: ["50001"] },
    ],
    slots: [{ lo: 1, hi: 100000, value: "50001" }],
    body: null,
    ...over,
  };
}

Deno.test("slot values: the numbers at the template's slots, in order", () => {
  assert.deepEqual(
    slotValues(
      "/items?id=gt.{int:0:99000}&price=gte.10&limit=100",
      "/items?id=gt.17&price=gte.10&limit=100",
    ),
    ["17"],
  );
  assert.deepEqual(
    slotValues("/a/{int:1:9}?b=eq.{int:1:9}", "/a/3?b=eq.-12"),
    ["3", "-12"],
  );
  assert.deepEqual(slotValues("/writes", "/writes"), []);
});

Deno.test("slot values: another shape, or literal characters that differ, is no match", () => {
  assert.equal(slotValues("/items?id=eq.{int:1:9}", "/items?id=eq.x"), null);
  assert.equal(
    slotValues("/items?id=eq.{int:1:9}", "/items?id=eq.1&x=1"),
    null,
  );
  // `.` and `(` are literal, not pattern syntax
  assert.equal(slotValues("/p?select=c(id)", "/p?select=cxid)"), null);
  assert.deepEqual(slotValues("/p?select=c(id)", "/p?select=c(id)"), []);
});

Deno.test("param sources: a drawn slot value, the body, the body wrapped in [], constants", () => {
  const body = '{"price":50001}';
  const sources = paramSources(
    [
      { text: SETTINGS, params: ["bench_anon", null] },
      {
        text: "UPDATE …",
        params: [`[${body}]`, "501", body, "10"],
      },
    ],
    [{ lo: 1, hi: 1000, value: "501" }],
    body,
  );
  assert.deepEqual(sources, [
    [{ kind: "const", value: "bench_anon" }, { kind: "const", value: null }],
    [
      { kind: "body", prefix: "[", suffix: "]" },
      { kind: "slot", index: 0 },
      { kind: "body", prefix: "", suffix: "" },
      { kind: "const", value: "10" },
    ],
  ]);
});

Deno.test("param sources: the body takes precedence over a slot value equal to it", () => {
  const sources = paramSources(
    [{ text: "x", params: ["7"] }],
    [{ lo: 1, hi: 9, value: "7" }],
    "7",
  );
  assert.deepEqual(sources, [[{ kind: "body", prefix: "", suffix: "" }]]);
});

Deno.test("bind params: the request's slot numbers and body replace the captured ones", () => {
  assert.deepEqual(
    bindParams(
      [
        { kind: "const", value: "bench_anon" },
        { kind: "slot", index: 1 },
        { kind: "body", prefix: "[", suffix: "]" },
        { kind: "const", value: null },
      ],
      ["3", "42"],
      '{"price":9}',
    ),
    ["bench_anon", "42", '[{"price":9}]', null],
  );
});

Deno.test("bind params: a missing slot value or body is an error", () => {
  assert.throws(() => bindParams([{ kind: "slot", index: 0 }], [], null));
  assert.throws(() =>
    bindParams([{ kind: "body", prefix: "", suffix: "" }], [], null)
  );
});

Deno.test("request steps: constant statements are reused, varying ones bound per request", () => {
  const r = compileRoute(route({}));
  const a = requestSteps(r, ["7"], null);
  const b = requestSteps(r, ["8"], null);
  assert.equal(a[0], b[0]);
  assert.deepEqual(a[0]!.params, ["bench_anon"]);
  assert.deepEqual(a[1]!.params, ["7"]);
  assert.deepEqual(b[1]!.params, ["8"]);
  assert.equal(r.implicit, true);
});

Deno.test("compile: a BEGIN block is not an implicit transaction", () => {
  const r = compileRoute(route({
    statements: [
      { text: "BEGIN ISOLATION LEVEL READ COMMITTED", params: [] },
      { text: "SELECT $1 AS body", params: ["50001"] },
      { text: "COMMIT", params: [] },
    ],
  }));
  assert.equal(r.implicit, false);
});

Deno.test("compile: slots in the template and drawn slots must agree", () => {
  assert.throws(() => compileRoute(route({ slots: [] })), /1 slots/);
  assert.throws(() => compileRoute(route({ statements: [] })), /no statement/);
});

Deno.test("pick route: among routes of one path, the one whose captured body has the request body's kind", () => {
  const one = compileRoute(route({
    name: "insert_one",
    method: "POST",
    path: "/writes",
    slots: [],
    body: '{"name":"a"}',
    statements: [{ text: "INSERT …", params: ['[{"name":"a"}]'] }],
  }));
  const bulk = compileRoute(route({
    name: "insert_bulk",
    method: "POST",
    path: "/writes",
    slots: [],
    body: '[{"name":"a"},{"name":"b"}]',
    statements: [{ text: "INSERT …", params: ['[{"name":"a"},{"name":"b"}]'] }],
  }));
  assert.equal(
    pickRoute([one, bulk], "/writes", '[{"name":"z"}]')?.route,
    bulk,
  );
  assert.equal(pickRoute([one, bulk], "/writes", ' {"name":"z"}')?.route, one);
  // no route with that kind: the first whose path matches
  assert.equal(pickRoute([one, bulk], "/writes", "3")?.route, one);
  assert.equal(pickRoute([one, bulk], "/writes?x=1", "{}"), null);
  const steps = requestSteps(one, [], '{"name":"z"}');
  assert.deepEqual(steps[0]!.params, ['[{"name":"z"}]']);
});

Deno.test("replay file: routes are read, another shape is an error", () => {
  const file = parseReplayFile(JSON.stringify({ routes: [route({})] }));
  assert.equal(file.routes[0]!.name, "r");
  assert.throws(() => parseReplayFile("{}"), /no routes/);
  assert.throws(
    () => parseReplayFile(JSON.stringify({ routes: [{ name: "x" }] })),
    /another shape/,
  );
});
