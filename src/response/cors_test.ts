/**
 * Tests of CORS headers.
 *
 * @module
 */
import assert from "node:assert/strict";
import { corsHeaders } from "./cors.ts";

function h(o: Record<string, string>): Headers {
  return new Headers(o);
}
function get(hs: [string, string][], name: string): string | undefined {
  return hs.find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];
}

Deno.test("corsHeaders() allows any origin with * and no credentials when no list is set", () => {
  const hs = corsHeaders("GET", h({ origin: "http://a.example" }), null);
  assert.equal(get(hs, "Access-Control-Allow-Origin"), "*");
  assert.equal(get(hs, "Access-Control-Allow-Credentials"), undefined);
});

Deno.test("corsHeaders() sends nothing to a GET without Origin", () => {
  assert.deepEqual(corsHeaders("GET", h({}), null), []);
});

Deno.test("corsHeaders() echoes a listed origin with credentials and Vary", () => {
  const hs = corsHeaders("GET", h({ origin: "http://ok.example" }), [
    "http://ok.example",
  ]);
  assert.equal(get(hs, "Access-Control-Allow-Origin"), "http://ok.example");
  assert.equal(get(hs, "Access-Control-Allow-Credentials"), "true");
  assert.equal(get(hs, "Vary"), "Origin");
});

Deno.test("corsHeaders() gives a disallowed origin no CORS header", () => {
  assert.deepEqual(
    corsHeaders("GET", h({ origin: "http://evil.example" }), [
      "http://ok.example",
    ]),
    [],
  );
});

Deno.test("corsHeaders() answers a preflight with methods, headers and max-age", () => {
  const hs = corsHeaders(
    "OPTIONS",
    h({
      origin: "http://ok.example",
      "access-control-request-method": "POST",
      "access-control-request-headers": "Content-Type, Prefer",
    }),
    null,
  );
  assert.match(get(hs, "Access-Control-Allow-Methods") ?? "", /POST/);
  assert.equal(get(hs, "Access-Control-Allow-Headers"), "Content-Type, Prefer");
  assert.equal(get(hs, "Access-Control-Max-Age"), "86400");
});
