/**
 * Tests of the body parser: small bodies parsed in place, large ones on the
 * worker with the same results and errors, the worker stopped when idle, and
 * which requests `withParsedBody` parses ahead of the plan.
 *
 * @module
 */

import assert from "node:assert/strict";
import { parseJsonBody } from "./api_request/payload.ts";
import type { ApiRequest } from "./api_request/types.ts";
import { BodyParser, withParsedBody } from "./body_parser.ts";
import { PgrstError } from "./error.ts";

const encoder = new TextEncoder();
const MIN = 1024;

function bigRows(n = 100): string {
  return JSON.stringify(
    Array.from({ length: n }, (_, i) => ({ id: i, name: `row ${i}` })),
  );
}

/** The error `f` throws or rejects with, as a plain record. */
async function failure(f: () => unknown): Promise<Record<string, unknown>> {
  try {
    await f();
  } catch (e) {
    assert.ok(e instanceof PgrstError, String(e));
    return {
      status: e.status,
      code: e.code,
      message: e.message,
      details: e.details,
      hint: e.hint,
    };
  }
  throw new Error("did not fail");
}

Deno.test("BodyParser after close() parses a large body in place and starts no worker", async () => {
  const parser = new BodyParser(MIN, 60_000);
  parser.close();
  const text = bigRows();
  const p = await parser.parse(encoder.encode(text), true, true);
  assert.equal(parser.running, false);
  assert.deepEqual(p, parseJsonBody(encoder.encode(text), true));
});

Deno.test("BodyParser parses a small body in place, without a worker", async () => {
  const parser = new BodyParser(MIN, 50);
  try {
    const p = await parser.parse(encoder.encode('{"a":1}'), true);
    assert.deepEqual(p, {
      keys: ["a"],
      json: '[{"a":1}]',
      rows: 1,
      single: true,
      first: { a: 1 },
    });
    assert.equal(parser.running, false);
  } finally {
    parser.close();
  }
});

Deno.test("BodyParser parses a large body on its worker, as parseJsonBody does", async () => {
  const parser = new BodyParser(MIN, 60_000);
  try {
    const text = bigRows();
    assert.ok(text.length >= MIN);
    const bytes = encoder.encode(text);
    const p = await parser.parse(bytes, true);
    assert.equal(parser.running, true);
    // a table write does not read the first row: it stays in the worker
    assert.deepEqual(p, {
      ...parseJsonBody(encoder.encode(text), true),
      first: null,
    });
    // a function call gets it, for an array and for a single object
    const call = await parser.parse(encoder.encode(text), true, true);
    assert.deepEqual(call, parseJsonBody(encoder.encode(text), true));
    const object = JSON.stringify({ a: "x".repeat(MIN), n: [1, { b: null }] });
    assert.deepEqual(
      await parser.parse(encoder.encode(object), true, true),
      parseJsonBody(encoder.encode(object), true),
    );
    // the bytes were moved to the worker, not copied
    assert.equal(bytes.byteLength, 0);
    // several at once come back to their own callers
    const many = await Promise.all(
      [10, 200, 300].map((n) => parser.parse(encoder.encode(bigRows(n)), true)),
    );
    assert.deepEqual(many.map((m) => m.rows), [10, 200, 300]);
  } finally {
    parser.close();
  }
  assert.equal(parser.running, false);
});

Deno.test("BodyParser's worker gives the errors parsing in place gives", async () => {
  const parser = new BodyParser(MIN, 60_000);
  try {
    const big = bigRows();
    const cases = [
      big.slice(0, -1), // invalid JSON
      big.slice(0, -1) + ',{"other":1}]', // keys that differ
      " ".repeat(MIN + 10), // blank
      "[1," + "2,".repeat(MIN) + "3]", // an array of scalars
    ];
    for (const text of cases) {
      const onWorker = await failure(() =>
        parser.parse(encoder.encode(text), true)
      );
      const inPlace = await failure(() =>
        parseJsonBody(encoder.encode(text), true)
      );
      assert.deepEqual(onWorker, inPlace);
      assert.equal(onWorker["code"], "PGRST102");
    }
    assert.equal(parser.running, true);
  } finally {
    parser.close();
  }
});

Deno.test("BodyParser stops its worker once idle and starts it again when needed", async () => {
  const parser = new BodyParser(MIN, 30);
  try {
    await parser.parse(encoder.encode(bigRows()), true);
    assert.equal(parser.running, true);
    await new Promise((r) => setTimeout(r, 120));
    assert.equal(parser.running, false);
    const p = await parser.parse(encoder.encode(bigRows(50)), true);
    assert.equal(p.rows, 50);
  } finally {
    parser.close();
  }
});

function request(over: Partial<ApiRequest>): ApiRequest {
  return {
    method: "POST",
    target: { kind: "relation", name: "items" },
    body: encoder.encode(bigRows()),
    contentType: "application/json",
    params: { columns: null },
    ...over,
  } as unknown as ApiRequest;
}

Deno.test("withParsedBody parses the JSON bodies of table writes and function calls, and no other", async () => {
  const parser = new BodyParser(MIN, 60_000);
  try {
    const parsed = await withParsedBody(parser, request({}));
    assert.equal(parsed.payload?.rows, 100);
    assert.equal(parsed.body, null);
    const call = await withParsedBody(
      parser,
      request({ target: { kind: "routine", name: "f" } }),
    );
    assert.equal(call.payload?.rows, 100);
    assert.deepEqual(call.payload?.first, { id: 0, name: "row 0" });
    const untouched: Partial<ApiRequest>[] = [
      { target: { kind: "routine", name: "f" }, method: "GET" },
      { target: { kind: "root" } },
      { method: "DELETE" },
      { contentType: "text/csv" },
      { body: null },
      // a call without a body byte has no arguments
      { target: { kind: "routine", name: "f" }, body: new Uint8Array() },
    ];
    for (const over of untouched) {
      const req = request(over);
      assert.equal(await withParsedBody(parser, req), req);
    }
    // a small body is parsed too (in place), before the plan looks the
    // target up
    const small = await withParsedBody(
      parser,
      request({ body: encoder.encode('{"a":1}') }),
    );
    assert.deepEqual(small.payload?.keys, ["a"]);
    await assert.rejects(
      withParsedBody(parser, request({ body: new Uint8Array() })),
      (e: unknown) => e instanceof PgrstError && e.code === "PGRST102",
    );
    // ?columns= leaves the keys unchecked, as the plan does
    const mixed = bigRows().slice(0, -1) + ',{"other":1}]';
    const loose = await withParsedBody(
      parser,
      request({
        body: encoder.encode(mixed),
        params: { columns: ["id"] } as unknown as ApiRequest["params"],
      }),
    );
    assert.equal(loose.payload?.rows, 101);
  } finally {
    parser.close();
  }
});

Deno.test("BodyParser parses in place when its worker cannot be loaded, and fails no request", async () => {
  const parser = new BodyParser(
    MIN,
    60_000,
    new URL("./no_such_body_worker.ts", import.meta.url),
  );
  try {
    const texts = [bigRows(), bigRows(200)];
    const results = await Promise.all(
      texts.map((t) => parser.parse(encoder.encode(t), true, true)),
    );
    assert.deepEqual(
      results,
      texts.map((t) => parseJsonBody(encoder.encode(t), true)),
    );
    // from then on, without trying again
    assert.equal(parser.running, false);
    const later = await parser.parse(encoder.encode(bigRows(300)), true);
    assert.equal(later.rows, 300);
    assert.equal(parser.running, false);
    const bad = await failure(() =>
      parser.parse(encoder.encode(bigRows().slice(0, -1)), true)
    );
    assert.equal(bad["code"], "PGRST102");
  } finally {
    parser.close();
  }
});

Deno.test("BodyParser.close() fails the jobs it still holds", async () => {
  const parser = new BodyParser(MIN, 60_000);
  const pending = parser.parse(encoder.encode(bigRows()), true);
  parser.close();
  await assert.rejects(pending, /closed/);
  assert.equal(parser.running, false);
});
