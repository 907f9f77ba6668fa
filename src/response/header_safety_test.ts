/**
 * Tests of response header safety: names, control characters, UTF-8 values
 * and the headers SQL may not set.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  headerValueBytes,
  isHeaderName,
  isHeaderValue,
  isSettableHeader,
  markSendable,
  sendableValues,
  unsendableHeader,
  unsendableResponseHeader,
} from "./header_safety.ts";
import { gucHeaders, gucStatus } from "./response.ts";
import { fromPgError, PgrstError } from "../error.ts";

Deno.test("isHeaderName() accepts tokens and refuses spaces, colons and line breaks", () => {
  assert.ok(isHeaderName("X-Request-Id"));
  assert.ok(isHeaderName("Set-Cookie"));
  assert.ok(!isHeaderName(""));
  assert.ok(!isHeaderName("X A"));
  assert.ok(!isHeaderName("X:A"));
  assert.ok(!isHeaderName("X-A\r\nX-B"));
  assert.ok(!isHeaderName("Ñame"));
});

Deno.test("isHeaderValue() refuses every control character but tab", () => {
  assert.ok(isHeaderValue("a\tb"));
  assert.ok(isHeaderValue("José €"));
  for (const c of ["\r", "\n", "\0", "\x01", "\x0b", "\x1f", "\x7f"]) {
    assert.ok(!isHeaderValue(`a${c}b`), JSON.stringify(c));
  }
});

Deno.test("headerValueBytes() sends text beyond Latin-1 as its UTF-8 bytes", () => {
  assert.equal(headerValueBytes("plain é"), "plain é");
  const bytes = headerValueBytes("€");
  assert.deepEqual(
    Array.from(bytes, (c) => c.charCodeAt(0)),
    [0xe2, 0x82, 0xac],
  );
  // a ByteString: Headers accepts it
  assert.equal(new Headers([["x-a", bytes]]).get("x-a"), bytes);
});

Deno.test("isSettableHeader() keeps framing and hop-by-hop headers the server's", () => {
  for (
    const h of ["Content-Length", "transfer-encoding", "Connection", "Upgrade"]
  ) {
    assert.ok(!isSettableHeader(h), h);
  }
  assert.ok(isSettableHeader("Cache-Control"));
});

Deno.test("unsendableHeader() names a header value with a control character", () => {
  assert.equal(unsendableHeader(new Headers({ "x-a": "fine" })), null);
  assert.equal(unsendableHeader(new Headers([["x-a", "a\x01b"]])), "x-a");
});

Deno.test("gucHeaders() refuses control characters and bad names with PGRST111", () => {
  for (
    const text of [
      '[{"X-A":"a\\u0001b"}]',
      '[{"X-A":"a\\u007fb"}]',
      '[{"X A":"v"}]',
      '[{"X-A\\r\\nX-B":"v"}]',
    ]
  ) {
    assert.throws(
      () => gucHeaders(text),
      (e) => e instanceof PgrstError && e.code === "PGRST111",
      text,
    );
  }
});

Deno.test("gucHeaders() drops Connection and Upgrade and encodes UTF-8 values", () => {
  assert.deepEqual(
    gucHeaders(
      '[{"Connection":"close"},{"Upgrade":"h2c"},{"X-Name":"€"}]',
    ),
    [["X-Name", "\xe2\x82\xac"]],
  );
});

Deno.test("gucStatus() refuses interim 1xx statuses with PGRST112", () => {
  for (const s of ["100", "101", "199", "600"]) {
    assert.throws(
      () => gucStatus(s),
      (e) => e instanceof PgrstError && e.code === "PGRST112",
      s,
    );
  }
  assert.equal(gucStatus("204"), 204);
});

Deno.test("RAISE SQLSTATE 'PGRST' with a CR/LF header or a 1xx status is PGRST121, not a broken response", () => {
  const message = '{"code":"123","message":"m"}';
  for (
    const detail of [
      '{"status":418,"headers":{"X-A":"a\\r\\nX-Injected: 1"}}',
      '{"status":418,"headers":{"X A":"v"}}',
      '{"status":101,"headers":{}}',
      '{"status":418.5,"headers":{}}',
    ]
  ) {
    const e = fromPgError({ code: "PGRST", message, detail }, false);
    assert.equal(e.code, "PGRST121", detail);
    assert.equal(e.status, 500);
  }
  const ok = fromPgError({
    code: "PGRST",
    message,
    detail:
      '{"status":418,"headers":{"X-A":"€","Content-Length":"0","Transfer-Encoding":"chunked"}}',
  }, false);
  assert.equal(ok.status, 418);
  assert.deepEqual(ok.headers, [["X-A", "\xe2\x82\xac"]]);
});

Deno.test("sendableValues() accepts tab, printable ASCII and Latin-1, and refuses what unsendableHeader() refuses", () => {
  assert.ok(sendableValues([]));
  assert.ok(sendableValues([["a", "x\ty ~"], ["b", "caf\u00e9 \u00ff\u0080"]]));
  for (
    const bad of [
      "a\x01b",
      "a\rb",
      "a\nb",
      "a\x00",
      "a\x1fb",
      "a\x7fb",
      "\u0100",
      "\u{1f600}",
    ]
  ) {
    assert.equal(
      sendableValues([["ok", "fine"], ["x", bad]]),
      false,
      JSON.stringify(bad),
    );
  }
  // the same characters, one by one, as unsendableHeader() on a Headers
  for (let c = 0; c < 0x120; c++) {
    const v = `a${String.fromCharCode(c)}b`;
    let viaHeaders: string | null;
    try {
      viaHeaders = unsendableHeader(new Headers([["x", v]]));
    } catch {
      continue; // Headers itself refuses NUL, CR and LF inside a value
    }
    assert.equal(sendableValues([["x", v]]), viaHeaders === null, `char ${c}`);
  }
});

Deno.test("unsendableResponseHeader() skips only responses marked sendable", () => {
  const bad = () => new Response("", { headers: [["x-a", "a\x01b"]] });
  assert.equal(unsendableResponseHeader(bad()), "x-a");
  assert.equal(unsendableResponseHeader(new Response("")), null);
  // a value whose line break Headers trims is sent, as before the fast path
  const trimmed = new Response("", { headers: [["x-b", "abc\n"]] });
  assert.equal(sendableValues([["x-b", "abc\n"]]), false);
  assert.equal(unsendableResponseHeader(trimmed), null);
  const ok = markSendable(new Response("", { headers: [["x-c", "fine"]] }));
  assert.equal(unsendableResponseHeader(ok), null);
});
