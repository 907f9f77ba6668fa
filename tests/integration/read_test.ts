/**
 * Read-path integration tests against the fixture database: the app is built
 * in-process (`startApp` + `makeHandler`) and called with `Request`s, as
 * PostgREST's hspec-wai specs do. Covers select/filters/order/limit, HEAD,
 * Range and counts, db-max-rows, singular objects, nulls=stripped, CSV,
 * profiles, Prefer timezone, PGRST205 hints, JWT roles and RLS, SQL-visible
 * request settings, db-pre-request, read-only GETs and quoted identifiers.
 *
 * Needs PGRST_TEST_DB_URI (set by `deno task test`).
 *
 * @module
 */

import assert from "node:assert/strict";
import * as jose from "jose";
import { type Config, DEFAULT_CONFIG } from "../../src/config/types.ts";
import { makeHandler, type RunningApp, startApp } from "../../src/server.ts";

const uri = Deno.env.get("PGRST_TEST_DB_URI");
const SECRET = "reallyreallyreallyreallyverysafe";

const BASE: Config = {
  ...DEFAULT_CONFIG,
  dbUri: uri ?? "",
  dbSchemas: ["api", "api2"],
  dbAnonRole: "web_anon",
  jwtSecret: SECRET,
  dbTxEnd: "rollback-allow-override",
  dbPreRequest: "api.pre_request",
  dbPool: 4,
};

const CONFIGS = {
  main: BASE,
  limited: { ...BASE, dbMaxRows: 5 },
  single: { ...BASE, dbSchemas: ["api"] },
} as const satisfies Record<string, Config>;

const apps = new Map<keyof typeof CONFIGS, Promise<RunningApp>>();

function app(name: keyof typeof CONFIGS): Promise<RunningApp> {
  let a = apps.get(name);
  if (a === undefined) {
    a = startApp(CONFIGS[name]);
    apps.set(name, a);
  }
  return a;
}

Deno.test.afterAll(async () => {
  for (const a of apps.values()) await (await a).close();
});

/** Sends a request to the in-process app. */
async function get(
  path: string,
  init: RequestInit & { app?: keyof typeof CONFIGS } = {},
): Promise<Response> {
  const running = await app(init.app ?? "main");
  assert.ok(running.state.cache !== null, "the schema cache is loaded");
  const handle = makeHandler(running.state);
  return await handle(new Request(`http://localhost${path}`, init));
}

async function json(res: Response): Promise<unknown> {
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`not JSON (status ${res.status}): ${text}`);
  }
}

/** Asserts the status, then returns the parsed body. */
async function expectJson(res: Response, status: number): Promise<unknown> {
  const body = await json(res);
  assert.equal(res.status, status, JSON.stringify(body));
  return body;
}

function test(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, ignore: uri === undefined, fn });
}

function bugTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, ignore: true, fn });
}

async function token(
  claims: Record<string, unknown>,
  secret = SECRET,
): Promise<string> {
  return await new jose.SignJWT(claims)
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .sign(new TextEncoder().encode(secret));
}

async function bearer(claims: Record<string, unknown>): Promise<HeadersInit> {
  return { Authorization: `Bearer ${await token(claims)}` };
}

const JSON_CT = "application/json; charset=utf-8";

// ---------------------------------------------------------------- select, filters, order

test("GET /items?id=eq.1 returns one row and Content-Range 0-0/*", async () => {
  const res = await get("/items?id=eq.1&select=id,name");
  assert.deepEqual(await expectJson(res, 200), [{ id: 1, name: "pencil" }]);
  assert.equal(res.headers.get("Content-Range"), "0-0/*");
  assert.equal(res.headers.get("Content-Type"), JSON_CT);
});

test("GET /items returns every row with every column", async () => {
  const body = await expectJson(await get("/items?order=id"), 200);
  assert.ok(Array.isArray(body));
  assert.equal(body.length, 20);
  assert.deepEqual(body[0], {
    id: 1,
    name: "pencil",
    price: 1.50,
    tags: ["office", "school"],
    data: { color: "yellow", hardness: "HB" },
    created_at: "2024-01-01T10:00:00+00:00",
    mood: "happy",
    stock: 500,
  });
});

test("GET with select aliases, casts and JSON paths shapes the rows", async () => {
  const body = await expectJson(
    await get(
      "/items?id=in.(1,9)&order=id&select=key:id,price::text,color:data->>color,p0:data->pockets->0,p1:data->pockets->>1",
    ),
    200,
  );
  assert.deepEqual(body, [
    { key: 1, price: "1.50", color: "yellow", p0: null, p1: null },
    { key: 9, price: "45.00", color: null, p0: "front", p1: "side" },
  ]);
});

test("GET names a JSON path column after its last key", async () => {
  const body = await expectJson(
    await get("/items?id=eq.9&select=data->>volume_l,data->pockets->1"),
    200,
  );
  assert.deepEqual(body, [{ volume_l: "22", pockets: "side" }]);
});

test("GET filters with eq, neq, gt, gte, lt, lte and not", async () => {
  const ids = async (q: string) =>
    ((await expectJson(await get(`/items?select=id&order=id&${q}`), 200)) as {
      id: number;
    }[]).map((r) => r.id);
  assert.deepEqual(await ids("id=lte.3"), [1, 2, 3]);
  assert.deepEqual(await ids("id=lt.3"), [1, 2]);
  assert.deepEqual(await ids("id=gte.19"), [19, 20]);
  assert.deepEqual(await ids("id=gt.19"), [20]);
  assert.deepEqual(await ids("id=gt.1&id=lt.4&id=neq.2"), [3]);
  assert.deepEqual(await ids("id=not.lt.19"), [19, 20]);
  assert.deepEqual(await ids("id=eq.5"), [5]);
  assert.deepEqual(await ids("id=isdistinct.1&id=lt.3"), [2]);
});

test("GET filters with like, ilike, match and imatch", async () => {
  const names = async (q: string) =>
    ((await expectJson(await get(`/items?select=name&order=id&${q}`), 200)) as {
      name: string;
    }[]).map((r) => r.name);
  assert.deepEqual(await names("name=like.*ck*"), ["backpack", "sticky notes"]);
  assert.deepEqual(await names("name=ilike.PEN*"), ["pencil"]);
  assert.deepEqual(await names("name=match.^s[ct]"), [
    "stapler",
    "scissors",
    "sticky notes",
  ]);
  assert.deepEqual(await names("name=imatch.^DESK"), ["desk lamp"]);
  assert.deepEqual(await names("name=like(any).{pen*,era*}"), [
    "pencil",
    "eraser",
  ]);
  assert.deepEqual(await names("name=not.like(all).{*e*,*r*}&id=lt.5"), [
    "pencil",
    "notebook",
  ]);
});

test("GET filters with in (quoted values), is and array operators", async () => {
  const ids = async (q: string) =>
    ((await expectJson(await get(`/items?select=id&order=id&${q}`), 200)) as {
      id: number;
    }[]).map((r) => r.id);
  assert.deepEqual(await ids("id=in.(2,4,6)"), [2, 4, 6]);
  assert.deepEqual(await ids('name=in.("desk lamp","tea towel",mug)'), [
    5,
    6,
    8,
  ]);
  assert.deepEqual(
    await ids("id=not.in.(2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20)"),
    [1],
  );
  assert.deepEqual(await ids("id=in.()"), []);
  assert.deepEqual(await ids("price=is.null"), [16]);
  assert.deepEqual(await ids("mood=is.NULL"), [8, 16]);
  assert.deepEqual(await ids("tags=is.null"), [19]);
  assert.deepEqual(await ids("tags=cs.{office,school}"), [1, 2, 12]);
  assert.deepEqual(await ids("tags=cd.{office,school}"), [
    1,
    2,
    3,
    4,
    13,
    16,
    18,
  ]);
  assert.deepEqual(await ids("tags=ov.{sport}"), [10, 15, 20]);
});

test("GET filters on JSON paths with -> and ->>", async () => {
  const ids = async (q: string) =>
    ((await expectJson(await get(`/items?select=id&order=id&${q}`), 200)) as {
      id: number;
    }[]).map((r) => r.id);
  assert.deepEqual(await ids("data->>color=eq.yellow"), [1, 13]);
  assert.deepEqual(await ids("data->pockets->>0=eq.front"), [9]);
});

test(
  "GET compares -> paths and jsonb columns with JSON values",
  async () => {
    // (was a bug) a value compared with a jsonb expression is bound as a parameter
    // the server types as jsonb, and postgres.js then JSON-encodes the string
    // ("500" becomes the JSON string "500"), so these match the wrong rows.
    // JsonOperatorSpec "can filter jsonb": `/jsonb_test?data->a=eq.{"b":2}`;
    // docs: `json_data->age=gt.20`.
    const ids = async (q: string) =>
      ((await expectJson(await get(`/items?select=id&order=id&${q}`), 200)) as {
        id: number;
      }[]).map((r) => r.id);
    assert.deepEqual(await ids("data->volume_ml=gt.500"), [7, 10]);
    assert.deepEqual(await ids('data->color=eq."yellow"'), [1, 13]);
    assert.deepEqual(await ids("data=eq.{}"), [16]);
    assert.deepEqual(await ids('data=cs.{"color":"yellow"}'), [1, 13]);
  },
);

test("GET filters with full-text search on a text column", async () => {
  const ids = async (q: string) =>
    ((await expectJson(await get(`/items?select=id&order=id&${q}`), 200)) as {
      id: number;
    }[]).map((r) => r.id);
  assert.deepEqual(await ids("name=fts.lamp"), [5]);
  assert.deepEqual(await ids("name=plfts(english).desk lamps"), [5]);
  assert.deepEqual(await ids("name=wfts(simple).water or tea"), [8, 10]);
  assert.deepEqual(await ids("name=phfts.sticky notes"), [13]);
});

test("GET with or/and trees, nesting and not.and", async () => {
  const ids = async (q: string) =>
    ((await expectJson(await get(`/items?select=id&order=id&${q}`), 200)) as {
      id: number;
    }[]).map((r) => r.id);
  assert.deepEqual(await ids("or=(id.eq.1,id.eq.2)"), [1, 2]);
  assert.deepEqual(await ids("or=(id.eq.1,and(id.gt.18,price.gt.50))"), [
    1,
    20,
  ]);
  assert.deepEqual(await ids("id=lt.5&not.and=(id.gt.1,id.lt.4)"), [1, 4]);
  assert.deepEqual(await ids("and=(id.lt.6,or(name.like.p*,name.eq.mug))"), [
    1,
  ]);
  assert.deepEqual(
    await ids('or=(name.eq."desk lamp",tags.cs.{travel,sport},id.in.(3,4))'),
    [3, 4, 5, 10, 20],
  );
});

test("GET orders by several columns, nulls placement and JSON paths", async () => {
  const body = await expectJson(
    await get(
      "/items?select=id&id=in.(8,16,1,2)&order=mood.desc.nullsfirst,id.desc",
    ),
    200,
  );
  // mood: 1 happy, 2 ok, 8 null, 16 null
  assert.deepEqual(body, [{ id: 16 }, { id: 8 }, { id: 1 }, { id: 2 }]);
  const byJson = await expectJson(
    await get("/items?select=id&id=in.(1,2,4,11)&order=data->>color.asc,id"),
    200,
  );
  // black, blue, pink, yellow
  assert.deepEqual(byJson, [{ id: 4 }, { id: 11 }, { id: 2 }, { id: 1 }]);
});

test("GET with limit and offset pages through rows", async () => {
  const res = await get("/items?select=id&order=id.asc&limit=3&offset=2");
  assert.deepEqual(await expectJson(res, 200), [{ id: 3 }, { id: 4 }, {
    id: 5,
  }]);
  assert.equal(res.headers.get("Content-Range"), "2-4/*");
  const zero = await get("/items?limit=0");
  assert.deepEqual(await expectJson(zero, 200), []);
  assert.equal(zero.headers.get("Content-Range"), "*/*");
});

test("GET with a negative limit is 416 PGRST103", async () => {
  assert.deepEqual(
    await expectJson(await get("/items?select=id&limit=-1"), 416),
    {
      code: "PGRST103",
      details: "Limit should be greater than or equal to zero.",
      hint: null,
      message: "Requested range not satisfiable",
    },
  );
});

test("GET with a negative offset returns every row", async () => {
  // RangeSpec: `/items?select=id&offset=-4&order=id` → 200, 0-14/*
  const res = await get("/items?select=id&offset=-4&order=id");
  const body = await expectJson(res, 200);
  assert.ok(Array.isArray(body));
  assert.equal(body.length, 20);
  assert.equal(res.headers.get("Content-Range"), "0-19/*");
});

test("GET reports parse errors with 400 PGRST100", async () => {
  assert.deepEqual(await expectJson(await get("/items?id=0"), 400), {
    code: "PGRST100",
    details: 'unexpected "0" expecting "not" or operator (eq, gt, ...)',
    hint: null,
    message: '"failed to parse filter (0)" (line 1, column 1)',
  });
  const orEmpty = (await expectJson(await get("/items?or=()"), 400)) as {
    code: string;
    details: string;
  };
  assert.equal(orEmpty.code, "PGRST100");
  assert.equal(
    orEmpty.details,
    'unexpected ")" expecting field name (* or [a..z0..9_$]), negation operator (not) or logic operator (and, or)',
  );
});

bugTest("GET /items?or=() reports PostgREST's column 4", async () => {
  // BUG: AndOrParamsSpec expects `"failed to parse logic tree (())" (line 1,
  // column 4)`; the position does not count the `or` prefix.
  assert.deepEqual(await expectJson(await get("/items?or=()"), 400), {
    code: "PGRST100",
    details:
      'unexpected ")" expecting field name (* or [a..z0..9_$]), negation operator (not) or logic operator (and, or)',
    hint: null,
    message: '"failed to parse logic tree (())" (line 1, column 4)',
  });
});

test("GET with an unknown column is 400 42703", async () => {
  const body = (await expectJson(await get("/items?select=nope"), 400)) as {
    code: string;
  };
  assert.equal(body.code, "42703");
});

// ---------------------------------------------------------------- HEAD, ranges, counts

test("HEAD answers like GET without a body", async () => {
  const res = await get("/items?select=id&order=id&limit=3&offset=2", {
    method: "HEAD",
  });
  assert.equal(res.status, 200);
  assert.equal(await res.text(), "");
  assert.equal(res.headers.get("Content-Range"), "2-4/*");
  assert.equal(res.headers.get("Content-Type"), JSON_CT);
});

test("HEAD of an error has the status but no body", async () => {
  const res = await get("/nope", { method: "HEAD" });
  assert.equal(res.status, 404);
  assert.equal(await res.text(), "");
});

test("Range header selects rows: 0-1 → 200 with Content-Range 0-1/*", async () => {
  const res = await get("/items?select=id&order=id", {
    headers: { "Range-Unit": "items", Range: "0-1" },
  });
  assert.deepEqual(await expectJson(res, 200), [{ id: 1 }, { id: 2 }]);
  assert.equal(res.headers.get("Content-Range"), "0-1/*");
});

test("Range header with count=exact → 206 Partial Content", async () => {
  const res = await get("/items?select=id&order=id", {
    headers: { "Range-Unit": "items", Range: "2-4", Prefer: "count=exact" },
  });
  assert.deepEqual(await expectJson(res, 206), [{ id: 3 }, { id: 4 }, {
    id: 5,
  }]);
  assert.equal(res.headers.get("Content-Range"), "2-4/20");
});

test("Range header intersects with limit and offset", async () => {
  const res = await get("/items?select=id&order=id&limit=5&offset=1", {
    headers: { Range: "0-2" },
  });
  assert.deepEqual(await expectJson(res, 200), [{ id: 2 }, { id: 3 }]);
  assert.equal(res.headers.get("Content-Range"), "1-2/*");
});

test("Range header with lower > upper is 416 PGRST103", async () => {
  assert.deepEqual(
    await expectJson(
      await get("/items", { headers: { "Range-Unit": "items", Range: "1-0" } }),
      416,
    ),
    {
      code: "PGRST103",
      details:
        "The lower boundary must be lower than or equal to the upper boundary in the Range header.",
      hint: null,
      message: "Requested range not satisfiable",
    },
  );
});

test("Range past the exact count is 416 with Content-Range */total", async () => {
  const res = await get("/items", {
    headers: { Range: "100-199", Prefer: "count=exact" },
  });
  assert.deepEqual(await expectJson(res, 416), {
    code: "PGRST103",
    details: "An offset of 100 was requested, but there are only 20 rows.",
    hint: null,
    message: "Requested range not satisfiable",
  });
  assert.equal(res.headers.get("Content-Range"), "*/20");
});

test("count=exact gives the total in Content-Range, 200 when complete", async () => {
  const all = await get("/items?select=id", {
    headers: { Prefer: "count=exact" },
  });
  assert.equal(all.status, 200);
  assert.equal(all.headers.get("Content-Range"), "0-19/20");
  await all.body?.cancel();
  const some = await get("/items?select=id&id=gt.15&limit=2&order=id", {
    headers: { Prefer: "count=exact" },
  });
  assert.deepEqual(await expectJson(some, 206), [{ id: 16 }, { id: 17 }]);
  assert.equal(some.headers.get("Content-Range"), "0-1/5");
  const none = await get("/items?id=eq.0", {
    headers: { Prefer: "count=exact" },
  });
  assert.deepEqual(await expectJson(none, 200), []);
  assert.equal(none.headers.get("Content-Range"), "*/0");
});

test("count=planned gives the planner's estimate", async () => {
  const res = await get("/items?select=id&limit=2", {
    headers: { Prefer: "count=planned" },
  });
  await expectJson(res, 206);
  assert.equal(res.headers.get("Content-Range"), "0-1/20");
  const head = await get("/items", {
    method: "HEAD",
    headers: { Prefer: "count=planned" },
  });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get("Content-Range"), "0-19/20");
});

bugTest(
  "count=estimated is exact below db-max-rows and planned above",
  async () => {
    // BUG: with db-max-rows, count=estimated gives no total below the limit
    // (`0-1/*`); QueryLimitedSpec expects the exact count there:
    // `HEAD /getallprojects_view?id=lt.3` → `Content-Range: 0-1/2`.
    const small = await get("/items?id=lt.3", {
      app: "limited",
      method: "HEAD",
      headers: { Prefer: "count=estimated" },
    });
    assert.equal(small.status, 200);
    assert.equal(small.headers.get("Content-Range"), "0-1/2");
    const big = await get("/items", {
      app: "limited",
      method: "HEAD",
      headers: { Prefer: "count=estimated" },
    });
    assert.equal(big.status, 206);
    assert.equal(big.headers.get("Content-Range"), "0-4/20");
  },
);

test("db-max-rows caps the rows of a read", async () => {
  const res = await get("/items?select=id&order=id", { app: "limited" });
  assert.deepEqual(
    await expectJson(res, 200),
    [1, 2, 3, 4, 5].map((id) => ({
      id,
    })),
  );
  assert.equal(res.headers.get("Content-Range"), "0-4/*");
  const lower = await get("/items?select=id&order=id&limit=2", {
    app: "limited",
  });
  assert.deepEqual(await expectJson(lower, 200), [{ id: 1 }, { id: 2 }]);
  const higher = await get("/items?select=id&order=id&limit=10&offset=18", {
    app: "limited",
  });
  assert.deepEqual(await expectJson(higher, 200), [{ id: 19 }, { id: 20 }]);
  const range = await get("/items?select=id&order=id", {
    app: "limited",
    headers: { Range: "0-0" },
  });
  assert.deepEqual(await expectJson(range, 200), [{ id: 1 }]);
  assert.equal(range.headers.get("Content-Range"), "0-0/*");
});

// ---------------------------------------------------------------- media types

test("Accept: application/vnd.pgrst.object+json returns one object", async () => {
  const res = await get("/items?id=eq.5&select=id,name", {
    headers: { Accept: "application/vnd.pgrst.object+json" },
  });
  assert.deepEqual(await expectJson(res, 200), { id: 5, name: "desk lamp" });
  assert.equal(
    res.headers.get("Content-Type"),
    "application/vnd.pgrst.object+json; charset=utf-8",
  );
});

test("Accept: application/vnd.pgrst.object+json of many or no rows is 406 PGRST116", async () => {
  assert.deepEqual(
    await expectJson(
      await get("/items?id=lt.4", {
        headers: { Accept: "application/vnd.pgrst.object+json" },
      }),
      406,
    ),
    {
      code: "PGRST116",
      details: "The result contains 3 rows",
      hint: null,
      message: "Cannot coerce the result to a single JSON object",
    },
  );
  assert.deepEqual(
    await expectJson(
      await get("/items?id=eq.0", {
        headers: { Accept: "application/vnd.pgrst.object+json" },
      }),
      406,
    ),
    {
      code: "PGRST116",
      details: "The result contains 0 rows",
      hint: null,
      message: "Cannot coerce the result to a single JSON object",
    },
  );
});

test("nulls=stripped leaves null keys out of arrays and objects", async () => {
  const arr = await get("/items?id=in.(1,16)&order=id&select=id,price,mood", {
    headers: { Accept: "application/vnd.pgrst.array+json;nulls=stripped" },
  });
  assert.deepEqual(await expectJson(arr, 200), [
    { id: 1, price: 1.5, mood: "happy" },
    { id: 16 },
  ]);
  assert.match(
    arr.headers.get("Content-Type") ?? "",
    /^application\/vnd\.pgrst\.array\+json;\s*nulls=stripped/,
  );
  const obj = await get("/items?id=eq.16&select=id,price,mood", {
    headers: { Accept: "application/vnd.pgrst.object+json;nulls=stripped" },
  });
  assert.deepEqual(await expectJson(obj, 200), { id: 16 });
  const plain = await get("/items?id=eq.16&select=id,price", {
    headers: { Accept: "application/vnd.pgrst.array+json" },
  });
  assert.deepEqual(await expectJson(plain, 200), [{ id: 16, price: null }]);
});

test("Accept: text/csv returns a header line and one line per row", async () => {
  const res = await get("/items?select=id,name,price&id=in.(1,5,16)&order=id", {
    headers: { Accept: "text/csv" },
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("Content-Type"), "text/csv; charset=utf-8");
  assert.equal(
    await res.text(),
    'id,name,price\n1,pencil,1.50\n5,"desk lamp",34.90\n16,"gift card",',
  );
});

test("an Accept nothing can satisfy is 406 PGRST107", async () => {
  const body = (await expectJson(
    await get("/items", { headers: { Accept: "image/png" } }),
    406,
  )) as { code: string };
  assert.equal(body.code, "PGRST107");
});

// ---------------------------------------------------------------- schemas

test("Accept-Profile: api2 reads from api2 and echoes Content-Profile", async () => {
  const res = await get("/things?order=id", {
    headers: { "Accept-Profile": "api2" },
  });
  assert.deepEqual(await expectJson(res, 200), [
    { id: 1, name: "thing one" },
    { id: 2, name: "thing two" },
    { id: 3, name: "thing three" },
  ]);
  assert.equal(res.headers.get("Content-Profile"), "api2");
});

test("Accept-Profile of an unexposed schema is 406 PGRST106", async () => {
  assert.deepEqual(
    await expectJson(
      await get("/items", { headers: { "Accept-Profile": "private" } }),
      406,
    ),
    {
      code: "PGRST106",
      details: null,
      hint: "Only the following schemas are exposed: api, api2",
      message: "Invalid schema: private",
    },
  );
});

test("a table of another schema is not found without its profile", async () => {
  const body = (await expectJson(await get("/things"), 404)) as {
    code: string;
    message: string;
  };
  assert.equal(body.code, "PGRST205");
  assert.equal(
    body.message,
    "Could not find the table 'api.things' in the schema cache",
  );
});

test(
  "the default schema of several is echoed in Content-Profile",
  async () => {
    // MultipleSchemaSpec
    // "succeeds in reading table from default schema v1 if no schema is
    // selected via header" expects Content-Profile: v1 whenever several schemas
    // are exposed.
    const res = await get("/items?id=eq.1&select=id");
    await expectJson(res, 200);
    assert.equal(res.headers.get("Content-Profile"), "api");
  },
);

test("with a single schema, Content-Profile is not sent", async () => {
  const res = await get("/items?id=eq.1&select=id", { app: "single" });
  await expectJson(res, 200);
  assert.equal(res.headers.get("Content-Profile"), null);
});

// ---------------------------------------------------------------- Prefer

test("Prefer: timezone formats timestamptz in that zone and is echoed", async () => {
  const res = await get("/items?id=eq.1&select=created_at", {
    headers: { Prefer: "timezone=America/Los_Angeles" },
  });
  assert.deepEqual(await expectJson(res, 200), [
    { created_at: "2024-01-01T02:00:00-08:00" },
  ]);
  assert.equal(
    res.headers.get("Preference-Applied"),
    "timezone=America/Los_Angeles",
  );
  const utc = await get("/items?id=eq.1&select=created_at");
  assert.deepEqual(await expectJson(utc, 200), [
    { created_at: "2024-01-01T10:00:00+00:00" },
  ]);
  assert.equal(utc.headers.get("Preference-Applied"), null);
});

test("Prefer: timezone with an unknown zone is 400 22023", async () => {
  const body = (await expectJson(
    await get("/items?id=eq.1", {
      headers: { Prefer: "timezone=Invalid/Timezone" },
    }),
    400,
  )) as { code: string; message: string };
  assert.equal(body.code, "22023");
  assert.equal(
    body.message,
    'invalid value for parameter "TimeZone": "Invalid/Timezone"',
  );
});

test("Prefer: handling=strict rejects unknown preferences with PGRST122", async () => {
  const body = (await expectJson(
    await get("/items", { headers: { Prefer: "handling=strict, foo=bar" } }),
    400,
  )) as { code: string };
  assert.equal(body.code, "PGRST122");
});

// ---------------------------------------------------------------- not found

test("an unknown table is 404 PGRST205 with a hint", async () => {
  const res = await get("/itemz");
  assert.deepEqual(await expectJson(res, 404), {
    code: "PGRST205",
    details: null,
    hint: "Perhaps you meant the table 'api.items'",
    message: "Could not find the table 'api.itemz' in the schema cache",
  });
  assert.equal(res.headers.get("Proxy-Status"), "PostgREST; error=PGRST205");
});

test("an unknown table far from any name is 404 PGRST205 without hint", async () => {
  assert.deepEqual(await expectJson(await get("/zzzzzzzz"), 404), {
    code: "PGRST205",
    details: null,
    hint: null,
    message: "Could not find the table 'api.zzzzzzzz' in the schema cache",
  });
});

test("a nested path is 404 PGRST125", async () => {
  assert.deepEqual(await expectJson(await get("/first/second/third"), 404), {
    code: "PGRST125",
    details: null,
    hint: null,
    message: "Invalid path specified in request URL",
  });
});

// ---------------------------------------------------------------- JWT and roles

test("without a token the request runs as the anonymous role", async () => {
  const body = await expectJson(await get("/request_info?select=role"), 200);
  assert.deepEqual(body, [{ role: "web_anon" }]);
});

test("a token with role web_user runs as web_user with its claims", async () => {
  const res = await get("/request_info?select=role,sub,claim_role", {
    headers: await bearer({ role: "web_user", sub: "alice" }),
  });
  assert.deepEqual(await expectJson(res, 200), [
    { role: "web_user", sub: "alice", claim_role: "web_user" },
  ]);
});

test("web_user sees only its own rows of secrets (RLS on the sub claim)", async () => {
  const alice = await get("/secrets?select=id,secret&order=id", {
    headers: await bearer({ role: "web_user", sub: "alice" }),
  });
  assert.deepEqual(await expectJson(alice, 200), [
    { id: 1, secret: "alice likes tea" },
    { id: 2, secret: "alice hates mondays" },
  ]);
  const bob = await get("/secrets?select=id", {
    headers: await bearer({ role: "web_user", sub: "bob" }),
  });
  assert.deepEqual(await expectJson(bob, 200), [{ id: 3 }]);
  const mallory = await get("/secrets", {
    headers: await bearer({ role: "web_user", sub: "mallory" }),
  });
  assert.deepEqual(await expectJson(mallory, 200), []);
});

test("anonymous access to secrets is 401 42501 with WWW-Authenticate", async () => {
  const res = await get("/secrets");
  assert.deepEqual(await expectJson(res, 401), {
    code: "42501",
    details: null,
    hint: null,
    message: "permission denied for table secrets",
  });
  assert.equal(res.headers.get("WWW-Authenticate"), "Bearer");
});

test("an authenticated role without the privilege gets 403 42501", async () => {
  const res = await get("/anon_only", {
    headers: await bearer({ role: "web_user", sub: "alice" }),
  });
  assert.deepEqual(await expectJson(res, 403), {
    code: "42501",
    details: null,
    hint: null,
    message: "permission denied for view anon_only",
  });
  assert.equal(res.headers.get("WWW-Authenticate"), null);
  const anon = await get("/anon_only");
  assert.deepEqual(await expectJson(anon, 200), [{ one: 1 }]);
});

test("a token with the anonymous role counts as anonymous: 401 on 42501", async () => {
  // PostgREST: authenticated = (role /= db-anon-role)
  const res = await get("/secrets", {
    headers: await bearer({ role: "web_anon" }),
  });
  const body = (await expectJson(res, 401)) as { code: string };
  assert.equal(body.code, "42501");
  assert.equal(res.headers.get("WWW-Authenticate"), "Bearer");
});

test("an expired token is 401 PGRST303 with an invalid_token challenge", async () => {
  const res = await get("/items", {
    headers: await bearer({
      role: "web_user",
      exp: Math.floor(Date.now() / 1000) - 3600,
    }),
  });
  assert.deepEqual(await expectJson(res, 401), {
    code: "PGRST303",
    details: null,
    hint: null,
    message: "JWT expired",
  });
  assert.equal(
    res.headers.get("WWW-Authenticate"),
    'Bearer error="invalid_token", error_description="JWT expired"',
  );
});

test("a token signed with another secret is 401 PGRST301", async () => {
  const res = await get("/items", {
    headers: {
      Authorization: `Bearer ${await token(
        { role: "web_user" },
        "another-secret-another-secret-xx",
      )}`,
    },
  });
  const body = (await expectJson(res, 401)) as { code: string };
  assert.equal(body.code, "PGRST301");
  assert.match(
    res.headers.get("WWW-Authenticate") ?? "",
    /^Bearer error="invalid_token"/,
  );
});

test("a token for a role that does not exist is 401", async () => {
  const body = (await expectJson(
    await get("/items", { headers: await bearer({ role: "nobody_here" }) }),
    401,
  )) as { code: string; message: string };
  assert.equal(body.code, "22023");
  assert.equal(body.message, 'role "nobody_here" does not exist');
});

// ---------------------------------------------------------------- request context

test("request.headers, request.method, request.path and cookies are visible to SQL", async () => {
  const res = await get("/request_info?select=echo,method,path,session,sub", {
    headers: { "X-Echo": "hello", Cookie: "session=abc; other=1" },
  });
  assert.deepEqual(await expectJson(res, 200), [
    {
      echo: "hello",
      method: "GET",
      path: "/request_info",
      session: "abc",
      sub: null,
    },
  ]);
});

test("request.jwt.claims carries every claim of the token", async () => {
  const res = await get("/request_info?select=sub,claim_role", {
    headers: await bearer({ role: "web_user", sub: "bob", extra: [1, 2] }),
  });
  assert.deepEqual(await expectJson(res, 200), [
    { sub: "bob", claim_role: "web_user" },
  ]);
});

test("db-pre-request runs first and can set response headers", async () => {
  const res = await get("/items?id=eq.1&select=id", {
    headers: { "X-Pre": "yes" },
  });
  assert.deepEqual(await expectJson(res, 200), [{ id: 1 }]);
  assert.equal(res.headers.get("X-Pre-Request"), "yes");
  const without = await get("/items?id=eq.1&select=id");
  await expectJson(without, 200);
  assert.equal(without.headers.get("X-Pre-Request"), null);
});

test("a GET runs read-only: a volatile write in a view is 405 25006", async () => {
  const body = (await expectJson(await get("/recorded_reads"), 405)) as {
    code: string;
    message: string;
  };
  assert.equal(body.code, "25006");
  assert.equal(
    body.message,
    "cannot execute INSERT in a read-only transaction",
  );
});

// ---------------------------------------------------------------- identifiers

test("a table named after a reserved word with a quote in a column is readable", async () => {
  const res = await get("/select?order=id");
  assert.deepEqual(await expectJson(res, 200), [
    { id: 1, from: "here", 'quote"d': 'a "quoted" value' },
    { id: 2, from: "there", 'quote"d': null },
  ]);
});

test("quoted names select and filter columns with reserved characters", async () => {
  const res = await get(
    `/select?select=id,from,"quote\\"d"&${
      encodeURIComponent('"quote\\"d"')
    }=like.*quoted*`,
  );
  assert.deepEqual(await expectJson(res, 200), [
    { id: 1, from: "here", 'quote"d': 'a "quoted" value' },
  ]);
  const nulls = await get(`/select?select=id&"quote\\"d"=is.null`);
  assert.deepEqual(await expectJson(nulls, 200), [{ id: 2 }]);
});

test("unicode values and names survive the round trip", async () => {
  const res = await get(
    `/items?select=name,emoji:data->>emoji&tags=cs.{${
      encodeURIComponent("ünïcödé")
    }}`,
  );
  assert.deepEqual(await expectJson(res, 200), [
    { name: "crème brûlée torch — «édition spéciale» 🔥", emoji: "🍮" },
  ]);
});

test("views are readable like tables", async () => {
  const res = await get("/cheap_items?select=id&order=id", {
    headers: { Prefer: "count=exact" },
  });
  const body = (await expectJson(res, 200)) as unknown[];
  assert.equal(body.length, 9);
  assert.equal(res.headers.get("Content-Range"), "0-8/9");
});

test("a function returning a text/html domain answers raw HTML", async () => {
  const res = await get("/rpc/welcome", { headers: { Accept: "text/html" } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/html");
  assert.equal(await res.text(), "<h1>hi</h1>");
});

test("a function returning a bytea media-type domain answers the exact bytes", async () => {
  const res = await get("/rpc/pixel", { headers: { Accept: "image/*" } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "image/png");
  assert.deepEqual(
    new Uint8Array(await res.arrayBuffer()),
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff]),
  );
});

test("a media-type domain function still answers JSON when JSON is asked", async () => {
  const res = await get("/rpc/welcome", {
    headers: { Accept: "application/json" },
  });
  assert.deepEqual(await expectJson(res, 200), "<h1>hi</h1>");
});

test("a media type handler aggregate renders a table's rows", async () => {
  const res = await get("/items?id=in.(1,2)&order=id", {
    headers: { Accept: "text/tab-separated-values" },
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/tab-separated-values");
  const body = await res.text();
  assert.match(body, /^1\t[^\n]+\n2\t[^\n]+\n$/);
});

test("a table's media type handler is not used for a narrowed select (406)", async () => {
  const res = await get("/items?select=id", {
    headers: { Accept: "text/tab-separated-values" },
  });
  const body = await expectJson(res, 406);
  assert.deepEqual((body as Record<string, unknown>)["code"], "PGRST107");
});

test("OPTIONS on a function ignores the request's Content-Type", async () => {
  for (const type of ["application/json", "text/plain"]) {
    const res = await get("/rpc/welcome", {
      method: "OPTIONS",
      headers: { "Content-Type": type },
    });
    await res.body?.cancel();
    assert.equal(res.status, 200, type);
    assert.ok(res.headers.get("allow")?.includes("POST"), type);
  }
});
