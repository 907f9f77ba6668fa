/**
 * Tests of reading a request's headers once: the size as sent, every
 * header but the cookie, the cookie's pairs, and one reading per `Headers`
 * object.
 *
 * @module
 */

import assert from "node:assert/strict";
import { headerBytes } from "./limits.ts";
import { cookieRecord, requestHeaders } from "./request_headers.ts";

Deno.test("requestHeaders() counts the size as headerBytes() does", () => {
  const h = new Headers({ "x-a": "12345", accept: "*/*", cookie: "a=1" });
  assert.equal(requestHeaders(h).bytes, headerBytes(h));
  assert.equal(requestHeaders(h).bytes, 3 + 5 + 4 + 6 + 3 + 4 + 6 + 3 + 4);
});

Deno.test("requestHeaders() keeps every header but the cookie, lower-cased and combined", () => {
  const h = new Headers([
    ["X-Thing", "a"],
    ["x-thing", "b"],
    ["Cookie", "s=1; t=2"],
    ["Accept", "*/*"],
  ]);
  const r = requestHeaders(h);
  assert.deepEqual(r.record, { accept: "*/*", "x-thing": "a, b" });
  assert.equal(r.cookie, "s=1; t=2");
  assert.equal(requestHeaders(new Headers()).cookie, null);
});

Deno.test("requestHeaders() reads a Headers object once", () => {
  const h = new Headers({ a: "1" });
  assert.equal(requestHeaders(h), requestHeaders(h));
});

Deno.test("cookieRecord() splits pairs, trims them and skips pairs without =", () => {
  assert.deepEqual(cookieRecord(null), {});
  assert.deepEqual(cookieRecord(" a = 1 ;b=x=y; junk ;c="), {
    a: "1",
    b: "x=y",
    c: "",
  });
});

Deno.test("requestHeaders().get() answers as Headers.get() does, for any case of a name", () => {
  const h = new Headers([
    ["Accept", "a/b"],
    ["X-Two", "1"],
    ["x-two", "2"],
    ["Cookie", "c=1"],
  ]);
  const r = requestHeaders(h);
  for (
    const name of [
      "accept",
      "ACCEPT",
      "x-two",
      "cookie",
      "Cookie",
      "prefer",
      "constructor",
      "__proto__",
      "toString",
    ]
  ) {
    assert.equal(r.get(name), h.get(name), name);
  }
});
