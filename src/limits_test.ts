/**
 * Tests of the request resource limits.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { SelectItem } from "./api_request/types.ts";
import { PgrstError } from "./error.ts";
import {
  capStatementTimeout,
  checkSelectSize,
  headerBytes,
  readBody,
  timeoutMillis,
} from "./limits.ts";

function embed(select: SelectItem[]): SelectItem {
  return {
    kind: "embed",
    name: "r",
    alias: null,
    hint: null,
    joinType: null,
    spread: false,
    select,
  };
}

Deno.test("readBody() refuses a declared Content-Length over the limit without reading", async () => {
  const req = new Request("http://x/t", {
    method: "POST",
    body: "0123456789",
    headers: { "content-length": "10" },
  });
  await assert.rejects(
    readBody(req, 5),
    (e) => e instanceof PgrstError && e.status === 413,
  );
});

Deno.test("readBody() refuses a streamed body once it passes the limit", async () => {
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new Uint8Array(4));
      c.enqueue(new Uint8Array(4));
      c.close();
    },
  });
  const req = new Request("http://x/t", { method: "POST", body: stream });
  await assert.rejects(
    readBody(req, 6),
    (e) => e instanceof PgrstError && e.status === 413,
  );
});

Deno.test("readBody() reads a body with a declared length, and refuses one carrying more than the limit whatever it declares", async () => {
  const ok = new Request("http://x/t", {
    method: "POST",
    body: "abcdef",
    headers: { "content-length": "6" },
  });
  assert.equal(new TextDecoder().decode(await readBody(ok, 6)), "abcdef");
  // a Request made in-process may declare less than it carries
  const lying = new Request("http://x/t", {
    method: "POST",
    body: "0123456789",
    headers: { "content-length": "3" },
  });
  await assert.rejects(
    readBody(lying, 5),
    (e) => e instanceof PgrstError && e.status === 413,
  );
});

Deno.test("readBody() returns a body within the limit", async () => {
  const req = new Request("http://x/t", { method: "POST", body: "abc" });
  assert.equal(new TextDecoder().decode(await readBody(req, 10)), "abc");
});

Deno.test("checkSelectSize() refuses deep embedding and huge select lists", () => {
  let tree: SelectItem[] = [{ kind: "star" }];
  for (let i = 0; i < 5; i++) tree = [embed(tree)];
  checkSelectSize(tree, { serverMaxEmbedDepth: 5, serverMaxSelectItems: 100 });
  assert.throws(
    () =>
      checkSelectSize([embed(tree)], {
        serverMaxEmbedDepth: 5,
        serverMaxSelectItems: 100,
      }),
    (e) => e instanceof PgrstError && e.status === 400 && e.code === "PGRST152",
  );
  const wide: SelectItem[] = Array.from(
    { length: 11 },
    () => ({ kind: "star" as const }),
  );
  assert.throws(() =>
    checkSelectSize(wide, { serverMaxEmbedDepth: 5, serverMaxSelectItems: 10 })
  );
});

Deno.test("readBody() turns a stream that fails mid-upload into 400 PGRST102", async () => {
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new Uint8Array([1, 2]));
      c.error(new Error("connection reset"));
    },
  });
  const req = new Request("http://x/", { method: "POST", body });
  await assert.rejects(readBody(req), (e: unknown) => {
    assert.ok(e instanceof PgrstError);
    assert.equal(e.status, 400);
    assert.equal(e.code, "PGRST102");
    return true;
  });
});

Deno.test("timeoutMillis() reads PostgreSQL's statement_timeout units", () => {
  assert.equal(timeoutMillis("250"), 250);
  assert.equal(timeoutMillis("250ms"), 250);
  assert.equal(timeoutMillis("2s"), 2000);
  assert.equal(timeoutMillis("1.5 min"), 90_000);
  assert.equal(timeoutMillis("1h"), 3_600_000);
  assert.equal(timeoutMillis("0"), 0);
  assert.equal(timeoutMillis("soon"), null);
  assert.equal(timeoutMillis("5 fortnights"), null);
});

Deno.test("capStatementTimeout() keeps a shorter role timeout and caps a longer or missing one", () => {
  assert.deepEqual(capStatementTimeout([["statement_timeout", "1s"]], 60), [
    ["statement_timeout", "1s"],
  ]);
  assert.deepEqual(
    capStatementTimeout([["work_mem", "7MB"], ["statement_timeout", "2h"]], 60),
    [["work_mem", "7MB"], ["statement_timeout", "60000ms"]],
  );
  // 0 disables PostgreSQL's timeout: the request timeout still applies
  assert.deepEqual(capStatementTimeout([["statement_timeout", "0"]], 5), [
    ["statement_timeout", "5000ms"],
  ]);
  assert.deepEqual(capStatementTimeout([], 5), [
    ["statement_timeout", "5000ms"],
  ]);
  // no request timeout: settings pass unchanged
  assert.deepEqual(capStatementTimeout([["statement_timeout", "2h"]], 0), [
    ["statement_timeout", "2h"],
  ]);
});

Deno.test("headerBytes() counts each header line as sent", () => {
  const h = new Headers({ "x-a": "12345", accept: "*/*" });
  assert.equal(headerBytes(h), 3 + 5 + 4 + 6 + 3 + 4);
});
