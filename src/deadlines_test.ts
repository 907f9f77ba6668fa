/**
 * Tests of {@linkcode Deadlines}: due deadlines fire once, deleted ones
 * never, an earlier deadline added later re-arms the timer, and the timer
 * never keeps the process alive.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Deadlines } from "./deadlines.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("a deadline fires once, after its time", async () => {
  const d = new Deadlines();
  const fired: number[] = [];
  const t0 = performance.now();
  d.add(30, () => fired.push(performance.now() - t0));
  await sleep(10);
  assert.deepEqual(fired, []);
  await sleep(60);
  assert.equal(fired.length, 1);
  assert.ok((fired[0] ?? 0) >= 29, `fired after ${fired[0]} ms`);
  assert.equal(d.size, 0);
  d.clear();
});

Deno.test("a deleted deadline never fires, the others still do", async () => {
  const d = new Deadlines();
  const fired: string[] = [];
  const a = d.add(20, () => fired.push("a"));
  d.add(40, () => fired.push("b"));
  d.delete(a);
  await sleep(80);
  assert.deepEqual(fired, ["b"]);
  d.clear();
});

Deno.test("deadlines fire in time order, also when added out of order", async () => {
  const d = new Deadlines();
  const fired: string[] = [];
  d.add(60, () => fired.push("late"));
  // earlier than the armed timer: re-arms it
  d.add(15, () => fired.push("early"));
  await sleep(35);
  assert.deepEqual(fired, ["early"]);
  await sleep(60);
  assert.deepEqual(fired, ["early", "late"]);
  d.clear();
});

Deno.test("a deadline added after the set emptied still fires", async () => {
  const d = new Deadlines();
  const first = d.add(10_000, () => {});
  d.delete(first);
  let fired = false;
  d.add(20, () => (fired = true));
  await sleep(60);
  assert.equal(fired, true);
  d.clear();
});

Deno.test("many deadlines due together all fire, with a fake clock", async () => {
  let now = 0;
  const d = new Deadlines(() => now);
  let count = 0;
  for (let i = 0; i < 100; i++) d.add(5, () => count++);
  now = 5;
  await sleep(30);
  assert.equal(count, 100);
  assert.equal(d.size, 0);
  d.clear();
});

Deno.test("clear stops every deadline", async () => {
  const d = new Deadlines();
  let fired = false;
  d.add(10, () => (fired = true));
  d.clear();
  await sleep(40);
  assert.equal(fired, false);
});
