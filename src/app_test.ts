/**
 * Tests of what the request handler counts as the database being down, and
 * of the settings a request's transaction gets (remembered per schema
 * cache, function, role and configuration), and of how a response gets its
 * header list.
 *
 * @module
 */

import assert from "node:assert/strict";
import { fillHeaders, isConnectionFailure, requestSettings } from "./app.ts";
import { DEFAULT_CONFIG } from "./config/types.ts";
import { PgrstError } from "./error.ts";
import type { SchemaCache } from "./schema_cache/types.ts";

Deno.test("isConnectionFailure: no connection, a shutdown or a class-08 error mark the database down; a busy pool or a query error do not", () => {
  const err = (code: string, status = 503) => new PgrstError(status, code, "x");
  for (const code of ["PGRST001", "57P01", "57P02", "57P03", "08006"]) {
    assert.equal(isConnectionFailure(err(code)), true, code);
  }
  for (const code of ["PGRST003", "42501", "57014", "PGRST154"]) {
    assert.equal(isConnectionFailure(err(code, 504)), false, code);
  }
  assert.equal(isConnectionFailure(new Error("PGRST001")), false);
});

Deno.test("requestSettings: the role's settings, hoisted function settings and the capped statement_timeout, the same when asked again and new for a new configuration or cache", () => {
  const cache = (timeout: string) =>
    ({
      roleSettings: new Map([
        ["web", [["statement_timeout", timeout], ["work_mem", "4MB"]]],
      ]),
    }) as unknown as SchemaCache;
  const config = {
    ...DEFAULT_CONFIG,
    serverRequestTimeout: 10,
    dbHoistedTxSettings: ["work_mem"],
  };
  const c1 = cache("5s");
  assert.deepEqual(requestSettings(config, c1, "web", null), [
    ["statement_timeout", "5s"],
    ["work_mem", "4MB"],
  ]);
  assert.equal(
    requestSettings(config, c1, "web", null),
    requestSettings(config, c1, "web", null),
  );
  assert.deepEqual(requestSettings(config, c1, "anon", null), [
    ["statement_timeout", "10000ms"],
  ]);
  const fn = { settings: [["work_mem", "8MB"], ["search_path", "x"]] as const };
  assert.deepEqual(requestSettings(config, c1, "web", fn), [
    ["statement_timeout", "5s"],
    ["work_mem", "8MB"],
  ]);
  // a shorter request timeout caps the role's statement_timeout
  assert.deepEqual(
    requestSettings({ ...config, serverRequestTimeout: 2 }, c1, "web", null),
    [["statement_timeout", "2000ms"], ["work_mem", "4MB"]],
  );
  // a reloaded cache brings its own settings
  assert.deepEqual(requestSettings(config, cache("1s"), "web", null), [
    ["statement_timeout", "1s"],
    ["work_mem", "4MB"],
  ]);
  assert.deepEqual(requestSettings(config, null, "web", null), [
    ["statement_timeout", "10000ms"],
  ]);
});

Deno.test("fillHeaders: a response gets the headers a list in its init would give, duplicates and Content-Type included", () => {
  const lists: [string, string][][] = [
    [],
    [["Content-Type", "application/json; charset=utf-8"]],
    [["X-A", "1"], ["content-type", "text/csv"], ["Content-Type", "x/y"]],
    [["Set-Cookie", "a=1"], ["Set-Cookie", "b=2"], ["Vary", "Accept"]],
    [["Content-Range", "0-0/*"], ["Location", "/items?id=eq.1"]],
  ];
  for (const body of ["{}", null]) {
    for (const list of lists) {
      const want = new Response(body, { status: 200, headers: list });
      const got = new Response(body, { status: 200 });
      fillHeaders(got.headers, list);
      assert.deepEqual([...got.headers], [...want.headers], String(list));
      assert.deepEqual(
        got.headers.getSetCookie(),
        want.headers.getSetCookie(),
      );
    }
  }
});

Deno.test("fillHeaders: an invalid name or value is a TypeError, as in a Response's init", () => {
  for (const h of [["bad name", "x"], ["X-A", "a\nb"]] as const) {
    assert.throws(
      () => new Response("", { headers: [[h[0], h[1]]] }),
      TypeError,
    );
    assert.throws(
      () => fillHeaders(new Response("").headers, [[h[0], h[1]]]),
      TypeError,
    );
  }
});
