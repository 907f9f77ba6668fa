import assert from "node:assert/strict";
import { Memo2 } from "./memo.ts";

Deno.test("Memo2 computes a value once per pair of keys", () => {
  const calls: string[] = [];
  const memo = new Memo2<{ n: number }, string, string>(
    (a, b) => {
      calls.push(`${a.n}${b}`);
      return `${a.n}${b}`;
    },
    () => new Map(),
  );
  const one = { n: 1 };
  const two = { n: 2 };
  assert.equal(memo.get(one, "x"), "1x");
  assert.equal(memo.get(one, "x"), "1x");
  assert.equal(memo.get(one, "y"), "1y");
  assert.equal(memo.get(two, "x"), "2x");
  assert.deepEqual(calls, ["1x", "1y", "2x"]);
});

Deno.test("Memo2 remembers a null value instead of computing it again", () => {
  let calls = 0;
  const memo = new Memo2<object, object, null>(() => {
    calls++;
    return null;
  }, () => new WeakMap());
  const a = {};
  const b = {};
  assert.equal(memo.get(a, b), null);
  assert.equal(memo.get(a, b), null);
  assert.equal(calls, 1);
});
