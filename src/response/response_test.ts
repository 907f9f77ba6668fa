/**
 * Tests for building read responses: Content-Range and the 200/206/416
 * rules (PostgREST's `rangeStatusHeader`), singular objects (PGRST116),
 * `response.headers` (PGRST111) and `response.status` (PGRST112) parsing,
 * Preference-Applied, Content-Profile and HEAD.
 *
 * @module
 */

import assert from "node:assert/strict";
import { parseApiRequest } from "../api_request/api_request.ts";
import type { ApiRequest, RangeSpec } from "../api_request/types.ts";
import { type Config, DEFAULT_CONFIG } from "../config/types.ts";
import { PgrstError } from "../error.ts";
import type { OutputMedia } from "../plan/negotiate.ts";
import type { ReadPlan } from "../plan/plan.ts";
import type { Table } from "../schema_cache/types.ts";
import {
  gucHeaders,
  gucStatus,
  preferenceApplied,
  rangeStatus,
  readResponse,
  type ResultRow,
  resultRow,
  withGucHeaders,
} from "./response.ts";

const CONFIG: Config = {
  ...DEFAULT_CONFIG,
  dbSchemas: ["api", "api2"],
  dbAnonRole: "web_anon",
  dbTxEnd: "rollback-allow-override",
};

const TABLE: Table = {
  schema: "api",
  name: "items",
  description: null,
  isView: false,
  isPartitioned: false,
  insertable: true,
  updatable: true,
  deletable: true,
  primaryKey: ["id"],
  uniques: [["id"]],
  columns: [],
  columnsByName: new Map(),
};

const JSON_MEDIA: OutputMedia = {
  kind: "json",
  stripNulls: false,
  contentType: "application/json; charset=utf-8",
};

const SINGULAR_MEDIA: OutputMedia = {
  kind: "singular",
  stripNulls: false,
  contentType: "application/vnd.pgrst.object+json; charset=utf-8",
};

function request(
  pathAndQuery: string,
  headers: Record<string, string> = {},
  method = "GET",
): ApiRequest {
  const q = pathAndQuery.indexOf("?");
  return parseApiRequest({
    method,
    path: q < 0 ? pathAndQuery : pathAndQuery.slice(0, q),
    search: q < 0 ? "" : pathAndQuery.slice(q + 1),
    headers: new Headers(headers),
    body: null,
  }, CONFIG);
}

function plan(
  opts: {
    range?: RangeSpec;
    count?: ReadPlan["count"];
    media?: OutputMedia;
    headOnly?: boolean;
    warning?: string;
  } = {},
): ReadPlan {
  return {
    kind: "read",
    call: null,
    node: {
      table: TABLE,
      select: [{ kind: "star" }],
      embeds: [],
      where: [],
      embedFilters: [],
      computedFields: new Map(),
      order: [],
      range: opts.range ?? { offset: 0, limit: null },
    },
    count: opts.count ?? null,
    media: opts.media ?? JSON_MEDIA,
    headOnly: opts.headOnly ?? false,
    ...(opts.warning === undefined ? {} : { warning: opts.warning }),
  };
}

function row(r: Partial<ResultRow> = {}): ResultRow {
  return {
    tableTotal: r.tableTotal ?? null,
    pageTotal: r.pageTotal ?? 0,
    body: r.body ?? "[]",
    gucHeaders: r.gucHeaders ?? null,
    gucStatus: r.gucStatus ?? null,
    inserted: r.inserted ?? null,
    location: r.location ?? null,
  };
}

function header(
  headers: readonly (readonly [string, string])[],
  name: string,
): string | undefined {
  return headers.find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];
}

function failsWith(
  fn: () => unknown,
  code: string,
  status: number,
): PgrstError {
  let caught: unknown;
  try {
    fn();
  } catch (e: unknown) {
    caught = e;
  }
  assert.ok(
    caught instanceof PgrstError,
    `expected a PgrstError, got ${String(caught)}`,
  );
  assert.equal(caught.code, code);
  assert.equal(caught.status, status);
  return caught;
}

const ALL = { offset: 0, limit: null };

// ---------------------------------------------------------------- ranges

Deno.test("rangeStatus() without a count is 200 with an unknown total", () => {
  assert.deepEqual(rangeStatus(ALL, 15, null), {
    status: 200,
    contentRange: "0-14/*",
  });
  assert.deepEqual(rangeStatus({ offset: 2, limit: 3 }, 3, null), {
    status: 200,
    contentRange: "2-4/*",
  });
  assert.deepEqual(rangeStatus(ALL, 1, null), {
    status: 200,
    contentRange: "0-0/*",
  });
});

Deno.test("rangeStatus() writes * for an empty page", () => {
  assert.deepEqual(rangeStatus(ALL, 0, null), {
    status: 200,
    contentRange: "*/*",
  });
  // QueryLimitedSpec: limit=0 → */*
  assert.deepEqual(rangeStatus({ offset: 0, limit: 0 }, 0, null), {
    status: 200,
    contentRange: "*/*",
  });
});

Deno.test("rangeStatus() is 200 when the page holds the whole count", () => {
  assert.deepEqual(rangeStatus(ALL, 15, 15), {
    status: 200,
    contentRange: "0-14/15",
  });
  // RangeSpec: `/items?id=eq.0` with count=exact → */0
  assert.deepEqual(rangeStatus(ALL, 0, 0), {
    status: 200,
    contentRange: "*/0",
  });
});

Deno.test("rangeStatus() is 206 when the page holds fewer rows than the count", () => {
  assert.deepEqual(rangeStatus({ offset: 0, limit: 2 }, 2, 6), {
    status: 206,
    contentRange: "0-1/6",
  });
  assert.deepEqual(rangeStatus({ offset: 3, limit: 2 }, 2, 15), {
    status: 206,
    contentRange: "3-4/15",
  });
  assert.deepEqual(rangeStatus({ offset: 15, limit: null }, 0, 15), {
    status: 206,
    contentRange: "*/15",
  });
});

Deno.test("rangeStatus() is 416 when the offset is past the count", () => {
  // RangeSpec: offset=100 of 15 rows; offset=1 of 0 rows
  assert.deepEqual(rangeStatus({ offset: 100, limit: null }, 0, 15), {
    status: 416,
    contentRange: "*/15",
  });
  assert.equal(rangeStatus({ offset: 1, limit: null }, 0, 0).status, 416);
});

// ---------------------------------------------------------------- GUCs

Deno.test("gucHeaders() reads a JSON array of one-key objects", () => {
  assert.deepEqual(gucHeaders(null), []);
  assert.deepEqual(gucHeaders("[]"), []);
  assert.deepEqual(
    gucHeaders('[{"X-Pre-Request":"yes"},{"Cache-Control":"no-cache"}]'),
    [["X-Pre-Request", "yes"], ["Cache-Control", "no-cache"]],
  );
  assert.deepEqual(gucHeaders('[{"Set-Cookie":"a=1"},{"Set-Cookie":"b=2"}]'), [
    ["Set-Cookie", "a=1"],
    ["Set-Cookie", "b=2"],
  ]);
});

Deno.test("gucHeaders() rejects anything else with PGRST111", () => {
  for (
    const bad of [
      "not json",
      '{"X-A":"1"}',
      '"X-A: 1"',
      "[1]",
      '[["X-A","1"]]',
      '[{"X-A":"1","X-B":"2"}]',
      "[{}]",
      '[{"X-A":1}]',
      '[{"X-A":null}]',
      '[{"X-A":"a\\r\\nX-Injected: 1"}]',
    ]
  ) {
    const e = failsWith(() => gucHeaders(bad), "PGRST111", 500);
    assert.deepEqual(e.body(), {
      code: "PGRST111",
      details: null,
      hint: null,
      message:
        "response.headers guc must be a JSON array composed of objects with a single key and a string value",
    }, bad);
  }
});

Deno.test("gucStatus() reads a status code", () => {
  assert.equal(gucStatus(null), null);
  assert.equal(gucStatus("201"), 201);
  assert.equal(gucStatus("418"), 418);
});

Deno.test("gucStatus() rejects a non-number with PGRST112", () => {
  for (const bad of ["bad", "", "2O1", "201.5", "-200"]) {
    const e = failsWith(() => gucStatus(bad), "PGRST112", 500);
    assert.deepEqual(e.body(), {
      code: "PGRST112",
      details: null,
      hint: null,
      message: "response.status guc must be a valid status code",
    }, bad);
  }
});

// ---------------------------------------------------------------- resultRow

Deno.test("resultRow() reads bigint counts sent as text", () => {
  assert.deepEqual(
    resultRow({
      total_result_set: "20",
      page_total: "3",
      body: "[1,2,3]",
      response_headers: '[{"a":"b"}]',
      response_status: "201",
      inserted: "2",
      location: '{"id":1}',
    }),
    {
      tableTotal: 20,
      pageTotal: 3,
      body: "[1,2,3]",
      gucHeaders: '[{"a":"b"}]',
      gucStatus: "201",
      inserted: 2,
      location: '{"id":1}',
    },
  );
});

Deno.test("resultRow() fills in a missing row", () => {
  assert.deepEqual(resultRow(undefined), {
    tableTotal: null,
    pageTotal: 0,
    body: "",
    gucHeaders: null,
    gucStatus: null,
    inserted: null,
    location: null,
  });
  assert.equal(
    resultRow({ total_result_set: null, page_total: 0 }).tableTotal,
    null,
  );
});

// ---------------------------------------------------------------- readResponse

Deno.test("readResponse() answers 200 with Content-Range and Content-Type", () => {
  const res = readResponse(
    request("/items"),
    plan(),
    row({ pageTotal: 2, body: '[{"id":1},{"id":2}]' }),
    { txOverride: false },
  );
  assert.equal(res.status, 200);
  assert.equal(res.body, '[{"id":1},{"id":2}]');
  assert.equal(header(res.headers, "Content-Range"), "0-1/*");
  assert.equal(
    header(res.headers, "Content-Type"),
    "application/json; charset=utf-8",
  );
  // two schemas are exposed: the default one is echoed
  assert.equal(header(res.headers, "Content-Profile"), "api");
  assert.equal(header(res.headers, "Preference-Applied"), undefined);
});

Deno.test("readResponse() reports a plan's deprecation in a 299 Warning header", () => {
  const res = readResponse(
    request("/items"),
    plan({ warning: "Something is deprecated." }),
    row({ pageTotal: 0 }),
    { txOverride: false },
  );
  assert.match(
    header(res.headers, "Warning") ?? "",
    /^299 PostgRESTv[^ ]+ "Something is deprecated\."$/,
  );
  const plain = readResponse(request("/items"), plan(), row(), {
    txOverride: false,
  });
  assert.equal(header(plain.headers, "Warning"), undefined);
});

Deno.test("readResponse() sends a Warning naming a client's non-ASCII, quoted or control-character alias as a valid header", () => {
  const res = readResponse(
    request("/items"),
    plan({ warning: 'Update `projects` to `客户"\\\n`.' }),
    row({ pageTotal: 0 }),
    { txOverride: false },
  );
  const value = header(res.headers, "Warning") ?? "";
  // Deno's Headers take it (a ByteString without control characters)
  assert.equal(new Headers([["Warning", value]]).get("Warning"), value);
  const bytes = Uint8Array.from(value, (c) => c.charCodeAt(0));
  assert.match(
    new TextDecoder().decode(bytes),
    /^299 PostgRESTv[^ ]+ "Update `projects` to `客户\\"\\\\%0A`\."$/,
  );
});

Deno.test("readResponse() answers 206 with the exact count of a partial page", () => {
  const res = readResponse(
    request("/items?limit=2", { Prefer: "count=exact" }),
    plan({ range: { offset: 0, limit: 2 }, count: "exact" }),
    row({ pageTotal: 2, tableTotal: 20 }),
    { txOverride: false },
  );
  assert.equal(res.status, 206);
  assert.equal(header(res.headers, "Content-Range"), "0-1/20");
});

Deno.test("readResponse() refuses an offset past the count with 416 PGRST103", () => {
  const e = failsWith(
    () =>
      readResponse(
        request("/items?offset=100", { Prefer: "count=exact" }),
        plan({ range: { offset: 100, limit: null }, count: "exact" }),
        row({ pageTotal: 0, tableTotal: 15 }),
        { txOverride: false },
      ),
    "PGRST103",
    416,
  );
  assert.equal(
    e.details,
    "An offset of 100 was requested, but there are only 15 rows.",
  );
  // RangeSpec: the 416 carries Content-Range: */15
  assert.equal(header(e.headers, "Content-Range"), "*/15");
});

Deno.test("readResponse() returns a singular object for exactly one row", () => {
  const res = readResponse(
    request("/items?id=eq.5", { Accept: "application/vnd.pgrst.object+json" }),
    plan({ media: SINGULAR_MEDIA }),
    row({ pageTotal: 1, body: '{"id":5}' }),
    { txOverride: false },
  );
  assert.equal(res.status, 200);
  assert.equal(res.body, '{"id":5}');
  assert.equal(
    header(res.headers, "Content-Type"),
    "application/vnd.pgrst.object+json; charset=utf-8",
  );
});

Deno.test("readResponse() refuses a singular object of 0 or many rows with PGRST116", () => {
  for (const n of [0, 2, 6]) {
    const e = failsWith(
      () =>
        readResponse(
          request("/items", { Accept: "application/vnd.pgrst.object+json" }),
          plan({ media: SINGULAR_MEDIA }),
          row({ pageTotal: n, body: "" }),
          { txOverride: false },
        ),
      "PGRST116",
      406,
    );
    assert.equal(e.details, `The result contains ${n} rows`);
  }
});

Deno.test("readResponse() sends no body for HEAD but keeps the headers", () => {
  const res = readResponse(
    request("/items?limit=3&offset=2", {}, "HEAD"),
    plan({ range: { offset: 2, limit: 3 }, headOnly: true }),
    row({ pageTotal: 3, body: "[1,2,3]" }),
    { txOverride: false },
  );
  assert.equal(res.status, 200);
  assert.equal(res.body, null);
  assert.equal(header(res.headers, "Content-Range"), "2-4/*");
});

Deno.test("readResponse() adds Content-Profile when a profile was given", () => {
  const res = readResponse(
    request("/things", { "Accept-Profile": "api2" }),
    plan(),
    row(),
    { txOverride: false },
  );
  assert.equal(header(res.headers, "Content-Profile"), "api2");
});

Deno.test("readResponse() adds response.headers and response.status from SQL", () => {
  const res = readResponse(
    request("/items"),
    plan(),
    row({
      pageTotal: 1,
      body: "[1]",
      gucHeaders: '[{"X-Pre-Request":"yes"}]',
      gucStatus: "202",
    }),
    { txOverride: false },
  );
  assert.equal(res.status, 202);
  assert.equal(header(res.headers, "X-Pre-Request"), "yes");
});

Deno.test("readResponse() reports a bad response.headers with PGRST111", () => {
  failsWith(
    () =>
      readResponse(request("/items"), plan(), row({ gucHeaders: "{}" }), {
        txOverride: false,
      }),
    "PGRST111",
    500,
  );
  failsWith(
    () =>
      readResponse(request("/items"), plan(), row({ gucStatus: "bad" }), {
        txOverride: false,
      }),
    "PGRST112",
    500,
  );
});

Deno.test("readResponse() echoes the timezone and handling preferences", () => {
  // TimezoneSpec
  const res = readResponse(
    request("/items", {
      Prefer: "handling=strict, timezone=America/Los_Angeles",
    }),
    plan(),
    row(),
    { txOverride: false },
  );
  assert.equal(
    header(res.headers, "Preference-Applied"),
    "handling=strict, timezone=America/Los_Angeles",
  );
});

// ---------------------------------------------------------------- preferences

Deno.test("preferenceApplied() echoes tx only when the override is allowed", () => {
  const req = request("/items", { Prefer: "tx=commit" });
  assert.equal(preferenceApplied(req, true), "tx=commit");
  assert.equal(preferenceApplied(req, false), null);
});

Deno.test("preferenceApplied() does not echo invalid preferences", () => {
  assert.equal(
    preferenceApplied(request("/items", { Prefer: "foo=bar" }), true),
    null,
  );
});

Deno.test("gucHeaders() keeps framing headers out of SQL's reach and refuses NUL", () => {
  assert.deepEqual(
    gucHeaders(
      '[{"Content-Length":"1"},{"Transfer-Encoding":"chunked"},{"X-A":"b"}]',
    ),
    [["X-A", "b"]],
  );
  assert.throws(() => gucHeaders('[{"X-A":"b\\u0000c"}]'));
});

Deno.test("withGucHeaders() replaces a header the server set instead of repeating it", () => {
  const headers: [string, string][] = [
    ["Content-Type", "application/json; charset=utf-8"],
    ["Content-Range", "0-0/*"],
  ];
  withGucHeaders(headers, [["content-type", "text/html"], ["X-A", "1"]]);
  assert.deepEqual(headers, [
    ["Content-Range", "0-0/*"],
    ["content-type", "text/html"],
    ["X-A", "1"],
  ]);
});
