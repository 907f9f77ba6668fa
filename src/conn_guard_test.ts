/**
 * Tests of the connection guard's request framing: when a header section is
 * arriving on a kept-alive connection, across Content-Length and chunked
 * bodies and arbitrary splits of the bytes.
 *
 * @module
 */
import assert from "node:assert/strict";
import { headerEnd, RequestFraming } from "./conn_guard.ts";

const enc = new TextEncoder();

/** Feeds `text` in pieces of `size` bytes. */
function feed(f: RequestFraming, text: string, size: number, now = 0): void {
  const bytes = enc.encode(text);
  for (let i = 0; i < bytes.length; i += size) {
    f.feed(bytes.subarray(i, i + size), now);
  }
}

const GET = "GET /t HTTP/1.1\r\nHost: x\r\n\r\n";
const POST =
  'POST /t HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\n{"a":"b"}';
const CHUNKED =
  "POST /t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
  "4\r\nab\r\n\r\n3;ext=1\r\ncde\r\n0\r\nX-Trailer: 1\r\n\r\n";

Deno.test("RequestFraming knows a header section is arriving, and when it ended", () => {
  const f = new RequestFraming();
  assert.equal(f.inHead, false);
  feed(f, "GET /t HTTP/1.1\r\nHo", 100, 5);
  assert.equal(f.inHead, true);
  assert.equal(f.headStartedAt, 5);
  feed(f, "st: x\r\n\r\n", 100, 9);
  assert.equal(f.inHead, false);
  assert.equal(f.headStartedAt, null);
});

Deno.test("RequestFraming skips Content-Length and chunked bodies, whatever the splits", () => {
  for (const size of [1, 2, 3, 7, 1000]) {
    const f = new RequestFraming();
    feed(f, POST + CHUNKED + GET + POST, size);
    assert.equal(f.inHead, false, `split ${size}`);
    // a body that looks like a request line is not a header section
    const g = new RequestFraming();
    feed(
      g,
      "POST /t HTTP/1.1\r\nContent-Length: 20\r\n\r\nGET / HTTP/1.1\r\nX: ",
      size,
    );
    assert.equal(g.inHead, false, `body, split ${size}`);
    feed(g, "GET /next HTTP/1.1\r\n", size);
    assert.equal(g.inHead, true, `next request, split ${size}`);
  }
});

Deno.test("RequestFraming sees the next request's header section after a chunked body", () => {
  const f = new RequestFraming();
  feed(f, CHUNKED, 5);
  assert.equal(f.inHead, false);
  feed(f, "GET /slow HTTP/1.1\r\nX-1: a\r\n", 4, 42);
  assert.equal(f.inHead, true);
  assert.equal(f.headStartedAt, 42);
});

Deno.test("headerEnd() finds the blank line after the header section", () => {
  assert.equal(headerEnd(enc.encode(GET), 0), GET.length);
  assert.equal(headerEnd(enc.encode("GET / HTTP/1.1\r\nHost"), 0), -1);
});
