/**
 * Write-path integration tests against the fixture database: the app is
 * built in-process (`startApp` + `makeHandler`) and called with `Request`s,
 * as PostgREST's hspec-wai specs do. Covers POST (JSON objects and arrays,
 * CSV, forms, `columns=`, `missing=default`, counts, Location), PATCH, PUT,
 * DELETE, upserts (`resolution`, `on_conflict`), `max-affected`,
 * `tx=rollback`, singular responses, body and constraint errors, atomic bulk
 * inserts and row-level security for two JWT users.
 *
 * Everything runs in the `writes` schema (tests/fixtures/writes.sql), which
 * no other test file exposes. Each test uses its own key values, so the
 * writes that commit do not meet each other; the tables are emptied before
 * and after the file. The database is checked through a superuser connection
 * (PGRST_TEST_DB_SUPER_URI), which RLS does not limit.
 *
 * Needs PGRST_TEST_DB_URI (set by `deno task test`).
 *
 * @module
 */

import assert from "node:assert/strict";
import * as jose from "jose";
import postgres from "postgres";
import { type Config, DEFAULT_CONFIG } from "../../src/config/types.ts";
import { makeHandler, type RunningApp, startApp } from "../../src/server.ts";

const uri = Deno.env.get("PGRST_TEST_DB_URI");
const SECRET = "reallyreallyreallyreallyverysafe";

const CONFIG: Config = {
  ...DEFAULT_CONFIG,
  dbUri: uri ?? "",
  dbSchemas: ["writes"],
  dbAnonRole: "web_anon",
  jwtSecret: SECRET,
  dbTxEnd: "commit-allow-override",
  dbPool: 4,
};

let running: Promise<RunningApp> | null = null;
let superSql: ReturnType<typeof postgres> | null = null;

function app(): Promise<RunningApp> {
  return running ??= startApp(CONFIG);
}

/** A superuser connection: sees every row, whatever RLS says. */
function db(): ReturnType<typeof postgres> {
  if (superSql === null) {
    let superUri = Deno.env.get("PGRST_TEST_DB_SUPER_URI");
    if (superUri === undefined) {
      const u = new URL(uri ?? "");
      u.username = "postgres";
      u.password = "";
      superUri = u.toString();
    }
    superSql = postgres(superUri, { max: 1, onnotice: () => {} });
  }
  return superSql;
}

/** Empties the tables the tests write, so a reused database can rerun them. */
async function reset(): Promise<void> {
  if (uri === undefined) return;
  await db()`truncate writes.notes, writes.kv, writes.tags, writes.owned
    restart identity`;
}

Deno.test.beforeAll(reset);

Deno.test.afterAll(async () => {
  if (running !== null) await (await running).close();
  await reset();
  await superSql?.end();
});

function test(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, ignore: uri === undefined, fn });
}

interface Call {
  /** Sent as JSON unless it is a string. */
  readonly body?: unknown;
  readonly prefer?: string;
  readonly token?: string;
  readonly headers?: Record<string, string>;
}

/** Sends a request to the in-process app. */
async function call(
  method: string,
  path: string,
  opts: Call = {},
): Promise<Response> {
  const running = await app();
  assert.ok(running.state.cache !== null, "the schema cache is loaded");
  const headers = new Headers(opts.headers);
  if (opts.prefer !== undefined) headers.set("Prefer", opts.prefer);
  if (opts.token !== undefined) {
    headers.set("Authorization", `Bearer ${opts.token}`);
  }
  let body: string | null = null;
  if (opts.body !== undefined) {
    body = typeof opts.body === "string"
      ? opts.body
      : JSON.stringify(opts.body);
    if (!headers.has("Content-Type")) {
      headers.set("Content-Type", "application/json");
    }
  }
  const handle = makeHandler(running.state);
  return await handle(
    new Request(`http://localhost${path}`, { method, headers, body }),
  );
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

/** Asserts the status and an empty body without a Content-Type. */
async function expectEmpty(res: Response, status: number): Promise<void> {
  const text = await res.text();
  assert.equal(res.status, status, text);
  assert.equal(text, "");
  assert.equal(res.headers.get("Content-Type"), null);
}

interface ErrorBody {
  code: string;
  message: string;
  details: string | null;
  hint: string | null;
}

/** Asserts the status and error code, then returns the error body. */
async function expectError(
  res: Response,
  status: number,
  code: string,
): Promise<ErrorBody> {
  const body = await expectJson(res, status) as ErrorBody;
  assert.equal(body.code, code, JSON.stringify(body));
  return body;
}

async function token(claims: Record<string, unknown>): Promise<string> {
  return await new jose.SignJWT(claims)
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .sign(new TextEncoder().encode(SECRET));
}

const JSON_CT = "application/json; charset=utf-8";

type Row = Record<string, unknown>;
type Table = "notes" | "kv" | "tags" | "owned";

/** Inserts rows directly, as the superuser (all rows need the same keys). */
async function seed(table: Table, rows: Row[]): Promise<void> {
  const sql = db();
  await sql`insert into writes.${sql(table)} ${sql(rows)}`;
}

/** The rows of a table whose key is in `keys`, ordered by the key. */
async function rowsOf(
  table: Table,
  keys: readonly (number | string)[],
  columns: readonly string[],
): Promise<Row[]> {
  const sql = db();
  const key = table === "kv" ? "k" : "id";
  const rows = await sql`select ${sql(columns)} from writes.${sql(table)}
    where ${sql(key)} in ${sql(keys)} order by ${sql(key)}`;
  return rows.map((r) => ({ ...r }));
}

// ---------------------------------------------------------------- POST

test("POST /notes with one object returns 201, no body, no Content-Type and Content-Range */*", async () => {
  const res = await call("POST", "/notes", {
    body: { id: 1001, title: "first" },
  });
  await expectEmpty(res, 201);
  assert.equal(res.headers.get("Content-Range"), "*/*");
  assert.equal(res.headers.get("Location"), null);
  assert.deepEqual(
    await rowsOf("notes", [1001], ["id", "title", "body", "stars"]),
    [{ id: 1001, title: "first", body: "no body", stars: 3 }],
  );
});

test("POST with return=representation and select= returns 201 and the selected columns", async () => {
  const res = await call("POST", "/notes?select=id,title,stars", {
    body: { id: 1002, title: "shown", stars: 4 },
    prefer: "return=representation",
  });
  assert.deepEqual(await expectJson(res, 201), [
    { id: 1002, title: "shown", stars: 4 },
  ]);
  assert.equal(res.headers.get("Content-Type"), JSON_CT);
  assert.equal(res.headers.get("Content-Range"), "*/*");
  assert.match(
    res.headers.get("Preference-Applied") ?? "",
    /return=representation/,
  );
});

test("POST with return=headers-only returns Location /notes?id=eq.N for the generated key", async () => {
  const res = await call("POST", "/notes", {
    body: { title: "located" },
    prefer: "return=headers-only",
  });
  await expectEmpty(res, 201);
  const location = res.headers.get("Location") ?? "";
  const m = /^\/notes\?id=eq\.(\d+)$/.exec(location);
  assert.ok(m !== null, `Location: ${location}`);
  assert.deepEqual(await rowsOf("notes", [Number(m[1])], ["title"]), [
    { title: "located" },
  ]);
});

test("POST with a JSON array inserts every row in one request", async () => {
  const res = await call("POST", "/notes?select=id,title", {
    body: [
      { id: 1011, title: "one" },
      { id: 1012, title: "two" },
      { id: 1013, title: "three" },
    ],
    prefer: "return=representation",
  });
  assert.deepEqual(await expectJson(res, 201), [
    { id: 1011, title: "one" },
    { id: 1012, title: "two" },
    { id: 1013, title: "three" },
  ]);
  assert.deepEqual(await rowsOf("notes", [1011, 1012, 1013], ["title"]), [
    { title: "one" },
    { title: "two" },
    { title: "three" },
  ]);
});

test("POST a text/csv body inserts one row per line, with NULL as null", async () => {
  const res = await call("POST", "/notes?select=id,title,body", {
    body: 'id,title,body\n1021,csv one,NULL\n1022,"csv, two",hello',
    headers: { "Content-Type": "text/csv" },
    prefer: "return=representation",
  });
  assert.deepEqual(await expectJson(res, 201), [
    { id: 1021, title: "csv one", body: null },
    { id: 1022, title: "csv, two", body: "hello" },
  ]);
  assert.deepEqual(await rowsOf("notes", [1021, 1022], ["title", "body"]), [
    { title: "csv one", body: null },
    { title: "csv, two", body: "hello" },
  ]);
});

test("POST an application/x-www-form-urlencoded body inserts one row", async () => {
  const res = await call("POST", "/notes?select=id,title,stars", {
    body: "id=1031&title=from+a+form%21&stars=5",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    prefer: "return=representation",
  });
  assert.deepEqual(await expectJson(res, 201), [
    { id: 1031, title: "from a form!", stars: 5 },
  ]);
});

test("POST ?columns= writes only the named keys and ignores the others", async () => {
  const res = await call(
    "POST",
    "/notes?columns=id,title&select=id,title,body",
    {
      body: { id: 1041, title: "cols", body: "ignored", bogus: 1 },
      prefer: "return=representation",
    },
  );
  assert.deepEqual(await expectJson(res, 201), [
    { id: 1041, title: "cols", body: "no body" },
  ]);
});

test("POST ?columns= naming an unknown column is 400 PGRST204", async () => {
  const err = await expectError(
    await call("POST", "/notes?columns=id,nope", {
      body: { id: 1042, title: "x" },
    }),
    400,
    "PGRST204",
  );
  assert.equal(
    err.message,
    "Could not find the 'nope' column of 'notes' in the schema cache",
  );
  assert.deepEqual(await rowsOf("notes", [1042], ["id"]), []);
});

test("POST a key that is not a column is 400 PGRST204", async () => {
  const err = await expectError(
    await call("POST", "/notes", { body: { id: 1043, title: "x", nope: 1 } }),
    400,
    "PGRST204",
  );
  assert.equal(
    err.message,
    "Could not find the 'nope' column of 'notes' in the schema cache",
  );
});

test("POST ?columns= with missing=default gives absent keys their column default", async () => {
  const res = await call(
    "POST",
    "/notes?columns=id,title,body,stars&select=id,body,stars",
    {
      body: [
        { id: 1051, title: "a", body: "given", stars: 5 },
        { id: 1052, title: "b" },
      ],
      prefer: "return=representation, missing=default",
    },
  );
  assert.deepEqual(await expectJson(res, 201), [
    { id: 1051, body: "given", stars: 5 },
    { id: 1052, body: "no body", stars: 3 },
  ]);
  assert.match(res.headers.get("Preference-Applied") ?? "", /missing=default/);

  const single = await call(
    "POST",
    "/notes?columns=id,title,body&select=id,body",
    {
      body: { id: 1053, title: "c" },
      prefer: "return=representation, missing=default",
    },
  );
  assert.deepEqual(await expectJson(single, 201), [
    { id: 1053, body: "no body" },
  ]);
});

test("POST ?columns= without missing=default writes null for absent keys", async () => {
  const res = await call(
    "POST",
    "/notes?columns=id,title,body,stars&select=id,body,stars",
    {
      body: [
        { id: 1054, title: "a", body: "given", stars: 5 },
        { id: 1055, title: "b" },
      ],
      prefer: "return=representation",
    },
  );
  assert.deepEqual(await expectJson(res, 201), [
    { id: 1054, body: "given", stars: 5 },
    { id: 1055, body: null, stars: null },
  ]);
});

test("POST with count=exact reports the inserted count in Content-Range */2", async () => {
  const res = await call("POST", "/notes", {
    body: [{ id: 1061, title: "a" }, { id: 1062, title: "b" }],
    prefer: "count=exact",
  });
  await expectEmpty(res, 201);
  assert.equal(res.headers.get("Content-Range"), "*/2");
});

test("POST with return=representation and Accept: text/csv returns the rows as CSV", async () => {
  const res = await call("POST", "/notes?select=id,title", {
    body: [{ id: 1071, title: "c1" }, { id: 1072, title: "c, 2" }],
    prefer: "return=representation",
    headers: { Accept: "text/csv" },
  });
  const text = await res.text();
  assert.equal(res.status, 201, text);
  assert.equal(res.headers.get("Content-Type"), "text/csv; charset=utf-8");
  assert.equal(text, 'id,title\n1071,c1\n1072,"c, 2"');
});

test("POST [] with return=representation inserts nothing and returns []", async () => {
  const res = await call("POST", "/notes", {
    body: [],
    prefer: "return=representation",
  });
  assert.deepEqual(await expectJson(res, 201), []);
});

// ---------------------------------------------------------------- PATCH

test("PATCH with filters updates only the matching rows: 204 and Content-Range 0-1/*", async () => {
  await seed("notes", [
    { id: 1101, title: "p1", stars: 1 },
    { id: 1102, title: "p2", stars: 1 },
    { id: 1103, title: "p3", stars: 1 },
  ]);
  const res = await call("PATCH", "/notes?id=in.(1101,1102)", {
    body: { stars: 9 },
  });
  await expectEmpty(res, 204);
  assert.equal(res.headers.get("Content-Range"), "0-1/*");
  assert.deepEqual(await rowsOf("notes", [1101, 1102, 1103], ["stars"]), [
    { stars: 9 },
    { stars: 9 },
    { stars: 1 },
  ]);
});

test("PATCH with return=representation returns 200 and the updated rows", async () => {
  await seed("notes", [{ id: 1111, title: "before", stars: 1 }]);
  const res = await call("PATCH", "/notes?id=eq.1111&select=id,title,stars", {
    body: { title: "after", stars: 7 },
    prefer: "return=representation",
  });
  assert.deepEqual(await expectJson(res, 200), [
    { id: 1111, title: "after", stars: 7 },
  ]);
  assert.equal(res.headers.get("Content-Range"), "0-0/*");
  assert.equal(res.headers.get("Content-Type"), JSON_CT);
});

test("PATCH with return=representation can embed the related row", async () => {
  await seed("notes", [{ id: 1113, title: "embed", person_id: 1 }]);
  const res = await call(
    "PATCH",
    "/notes?id=eq.1113&select=id,person_id,people(name)",
    { body: { person_id: 2 }, prefer: "return=representation" },
  );
  assert.deepEqual(await expectJson(res, 200), [
    { id: 1113, person_id: 2, people: { name: "Grace" } },
  ]);
});

test("PATCH with count=exact reports the total in Content-Range 0-1/2", async () => {
  await seed("notes", [
    { id: 1116, title: "c1", stars: 1 },
    { id: 1117, title: "c2", stars: 1 },
  ]);
  const res = await call("PATCH", "/notes?id=in.(1116,1117)", {
    body: { stars: 2 },
    prefer: "count=exact",
  });
  await expectEmpty(res, 204);
  assert.equal(res.headers.get("Content-Range"), "0-1/2");
});

test("PATCH that matches no row returns 204 and Content-Range */*", async () => {
  const res = await call("PATCH", "/notes?id=eq.-1", { body: { stars: 2 } });
  await expectEmpty(res, 204);
  assert.equal(res.headers.get("Content-Range"), "*/*");
});

test("PATCH with an empty object changes nothing: 204 and Content-Range */*", async () => {
  await seed("notes", [{ id: 1121, title: "untouched", stars: 1 }]);
  const res = await call("PATCH", "/notes?id=eq.1121", { body: {} });
  await expectEmpty(res, 204);
  assert.equal(res.headers.get("Content-Range"), "*/*");

  const rep = await call("PATCH", "/notes?id=eq.1121", {
    body: {},
    prefer: "return=representation",
  });
  assert.deepEqual(await expectJson(rep, 200), []);
  assert.deepEqual(await rowsOf("notes", [1121], ["title", "stars"]), [
    { title: "untouched", stars: 1 },
  ]);
});

// ---------------------------------------------------------------- PUT

test("PUT by the full primary key inserts (201) and then updates (200) with representation", async () => {
  const inserted = await call("PUT", "/kv?k=eq.put-1", {
    body: { k: "put-1", v: "one" },
    prefer: "return=representation",
  });
  assert.deepEqual(await expectJson(inserted, 201), [
    { k: "put-1", v: "one", code: null },
  ]);
  const updated = await call("PUT", "/kv?k=eq.put-1", {
    body: { k: "put-1", v: "two" },
    prefer: "return=representation",
  });
  assert.deepEqual(await expectJson(updated, 200), [
    { k: "put-1", v: "two", code: null },
  ]);
  assert.deepEqual(await rowsOf("kv", ["put-1"], ["v"]), [{ v: "two" }]);
});

test("PUT without return= answers 204 and writes the row", async () => {
  const res = await call("PUT", "/kv?k=eq.put-2", {
    body: { k: "put-2", v: "quiet" },
  });
  await expectEmpty(res, 204);
  assert.deepEqual(await rowsOf("kv", ["put-2"], ["v"]), [{ v: "quiet" }]);
});

test("PUT with filters other than eq on exactly the primary key is 405 PGRST105", async () => {
  for (
    const path of [
      "/kv?v=eq.x",
      "/kv?k=neq.put-3",
      "/kv?k=in.(put-3)",
      "/kv?k=eq.put-3&v=eq.x",
      "/kv",
    ]
  ) {
    const err = await expectError(
      await call("PUT", path, { body: { k: "put-3", v: "x" } }),
      405,
      "PGRST105",
    );
    assert.equal(
      err.message,
      "Filters must include all and only primary key columns with 'eq' operators",
      path,
    );
  }
  assert.deepEqual(await rowsOf("kv", ["put-3"], ["v"]), []);
});

test("PUT whose payload key differs from the URL's is 400 PGRST115", async () => {
  const err = await expectError(
    await call("PUT", "/kv?k=eq.put-4", { body: { k: "put-5", v: "x" } }),
    400,
    "PGRST115",
  );
  assert.equal(
    err.message,
    "Payload values do not match URL in primary key column(s)",
  );
  assert.deepEqual(await rowsOf("kv", ["put-4", "put-5"], ["k"]), []);
});

test("PUT with limit or offset is 400 PGRST114", async () => {
  for (const q of ["limit=1", "offset=1"]) {
    const err = await expectError(
      await call("PUT", `/kv?k=eq.put-6&${q}`, {
        body: { k: "put-6", v: "x" },
      }),
      400,
      "PGRST114",
    );
    assert.equal(
      err.message,
      "limit/offset querystring parameters are not allowed for PUT",
    );
  }
  assert.deepEqual(await rowsOf("kv", ["put-6"], ["k"]), []);
});

// ---------------------------------------------------------------- DELETE

test("DELETE with filters removes only the matching rows: 204 and Content-Range */*", async () => {
  await seed("notes", [
    { id: 1201, title: "d1" },
    { id: 1202, title: "d2" },
    { id: 1203, title: "d3" },
  ]);
  const res = await call("DELETE", "/notes?id=in.(1201,1202)");
  await expectEmpty(res, 204);
  assert.equal(res.headers.get("Content-Range"), "*/*");
  assert.deepEqual(await rowsOf("notes", [1201, 1202, 1203], ["id"]), [
    { id: 1203 },
  ]);
});

test("DELETE with return=representation and count=exact returns 200, the deleted rows and */1", async () => {
  await seed("notes", [{ id: 1211, title: "gone" }]);
  const res = await call("DELETE", "/notes?id=eq.1211&select=id,title", {
    prefer: "return=representation, count=exact",
  });
  assert.deepEqual(await expectJson(res, 200), [{ id: 1211, title: "gone" }]);
  assert.equal(res.headers.get("Content-Range"), "*/1");
  assert.deepEqual(await rowsOf("notes", [1211], ["id"]), []);
});

// ---------------------------------------------------------------- upserts

test("POST with resolution=merge-duplicates updates existing rows and answers 200 when none is new", async () => {
  await seed("kv", [{ k: "m-1", v: "old" }, { k: "m-2", v: "old" }]);
  const res = await call("POST", "/kv?select=k,v", {
    body: [{ k: "m-1", v: "new 1" }, { k: "m-2", v: "new 2" }],
    prefer: "return=representation, resolution=merge-duplicates",
  });
  assert.deepEqual(await expectJson(res, 200), [
    { k: "m-1", v: "new 1" },
    { k: "m-2", v: "new 2" },
  ]);
  assert.match(
    res.headers.get("Preference-Applied") ?? "",
    /resolution=merge-duplicates/,
  );
  assert.deepEqual(await rowsOf("kv", ["m-1", "m-2"], ["v"]), [
    { v: "new 1" },
    { v: "new 2" },
  ]);
});

test("POST with resolution=merge-duplicates answers 201 when some row is new", async () => {
  await seed("kv", [{ k: "m-3", v: "old" }]);
  const res = await call("POST", "/kv", {
    body: [{ k: "m-3", v: "new 3" }, { k: "m-4", v: "new 4" }],
    prefer: "resolution=merge-duplicates",
  });
  await expectEmpty(res, 201);
  assert.deepEqual(await rowsOf("kv", ["m-3", "m-4"], ["v"]), [
    { v: "new 3" },
    { v: "new 4" },
  ]);
});

test("POST with resolution=ignore-duplicates keeps existing rows and inserts the new ones", async () => {
  await seed("kv", [{ k: "i-1", v: "old" }]);
  const res = await call("POST", "/kv?select=k,v", {
    body: [{ k: "i-1", v: "new" }, { k: "i-2", v: "fresh" }],
    prefer: "return=representation, resolution=ignore-duplicates",
  });
  assert.deepEqual(await expectJson(res, 201), [{ k: "i-2", v: "fresh" }]);
  assert.match(
    res.headers.get("Preference-Applied") ?? "",
    /resolution=ignore-duplicates/,
  );
  assert.deepEqual(await rowsOf("kv", ["i-1", "i-2"], ["v"]), [
    { v: "old" },
    { v: "fresh" },
  ]);
});

test("POST ?on_conflict=code upserts on a unique column that is not the key", async () => {
  await seed("tags", [{ id: 3001, code: "oc-1", label: "before" }]);
  const res = await call(
    "POST",
    "/tags?on_conflict=code&select=id,code,label",
    {
      body: [{ code: "oc-1", label: "after" }],
      prefer: "return=representation, resolution=merge-duplicates",
    },
  );
  assert.deepEqual(await expectJson(res, 200), [
    { id: 3001, code: "oc-1", label: "after" },
  ]);
  assert.deepEqual(await rowsOf("tags", [3001], ["code", "label"]), [
    { code: "oc-1", label: "after" },
  ]);

  // without on_conflict the same body is a plain insert that hits the key
  const plain = await call("POST", "/tags", {
    body: [{ code: "oc-1", label: "again" }],
  });
  await expectError(plain, 409, "23505");
});

test("bulk upsert with missing=default updates existing rows and fills absent keys of new ones with defaults", async () => {
  await seed("tags", [{ id: 3011, code: "md-1", label: "before" }]);
  const res = await call(
    "POST",
    "/tags?columns=id,code,label&select=code,label",
    {
      body: [{ id: 3011, code: "md-1", label: "after" }, { code: "md-2" }],
      prefer:
        "return=representation, resolution=merge-duplicates, missing=default",
    },
  );
  assert.deepEqual(await expectJson(res, 201), [
    { code: "md-1", label: "after" },
    { code: "md-2", label: "unlabelled" },
  ]);
  const applied = res.headers.get("Preference-Applied") ?? "";
  assert.match(applied, /resolution=merge-duplicates/);
  assert.match(applied, /missing=default/);
  assert.deepEqual(await rowsOf("tags", [3011], ["label"]), [
    { label: "after" },
  ]);
});

// ---------------------------------------------------------------- transaction control

test("max-affected with handling=strict over the limit is 400 PGRST124 and changes nothing", async () => {
  await seed("notes", [
    { id: 1301, title: "a", stars: 1 },
    { id: 1302, title: "b", stars: 1 },
    { id: 1303, title: "c", stars: 1 },
  ]);
  const patch = await expectError(
    await call("PATCH", "/notes?id=in.(1301,1302,1303)", {
      body: { stars: 0 },
      prefer: "handling=strict, max-affected=2",
    }),
    400,
    "PGRST124",
  );
  assert.equal(
    patch.message,
    "Query result exceeds max-affected preference constraint",
  );
  assert.equal(patch.details, "The query affects 3 rows");
  await expectError(
    await call("DELETE", "/notes?id=in.(1301,1302,1303)", {
      prefer: "handling=strict, max-affected=2",
    }),
    400,
    "PGRST124",
  );
  assert.deepEqual(await rowsOf("notes", [1301, 1302, 1303], ["stars"]), [
    { stars: 1 },
    { stars: 1 },
    { stars: 1 },
  ]);
});

test("max-affected with handling=strict within the limit lets the write through", async () => {
  await seed("notes", [
    { id: 1311, title: "a", stars: 1 },
    { id: 1312, title: "b", stars: 1 },
  ]);
  const res = await call("PATCH", "/notes?id=in.(1311,1312)", {
    body: { stars: 8 },
    prefer: "handling=strict, max-affected=2",
  });
  await expectEmpty(res, 204);
  assert.deepEqual(await rowsOf("notes", [1311, 1312], ["stars"]), [
    { stars: 8 },
    { stars: 8 },
  ]);
});

test("tx=rollback under commit-allow-override answers as usual, echoes Preference-Applied and keeps nothing", async () => {
  const res = await call("POST", "/notes?select=id,title", {
    body: { id: 1401, title: "ephemeral" },
    prefer: "return=representation, tx=rollback",
  });
  assert.deepEqual(await expectJson(res, 201), [
    { id: 1401, title: "ephemeral" },
  ]);
  assert.match(res.headers.get("Preference-Applied") ?? "", /tx=rollback/);
  assert.deepEqual(await rowsOf("notes", [1401], ["id"]), []);

  await seed("notes", [{ id: 1402, title: "kept", stars: 1 }]);
  const patch = await call("PATCH", "/notes?id=eq.1402", {
    body: { stars: 5 },
    prefer: "tx=rollback",
  });
  await expectEmpty(patch, 204);
  assert.match(patch.headers.get("Preference-Applied") ?? "", /tx=rollback/);
  const del = await call("DELETE", "/notes?id=eq.1402", {
    prefer: "tx=rollback",
  });
  await expectEmpty(del, 204);
  assert.deepEqual(await rowsOf("notes", [1402], ["stars"]), [{ stars: 1 }]);
});

test("singular Accept on a PATCH that matches 2 rows is 406 PGRST116 and changes no row", async () => {
  await seed("notes", [
    { id: 1501, title: "s1", stars: 1 },
    { id: 1502, title: "s2", stars: 1 },
  ]);
  for (const prefer of ["return=minimal", "return=representation"]) {
    const err = await expectError(
      await call("PATCH", "/notes?id=in.(1501,1502)", {
        body: { stars: 5 },
        prefer,
        headers: { Accept: "application/vnd.pgrst.object+json" },
      }),
      406,
      "PGRST116",
    );
    assert.equal(
      err.message,
      "Cannot coerce the result to a single JSON object",
    );
    assert.equal(err.details, "The result contains 2 rows");
  }
  assert.deepEqual(await rowsOf("notes", [1501, 1502], ["stars"]), [
    { stars: 1 },
    { stars: 1 },
  ]);
});

test("singular Accept on a POST of 2 rows is 406 PGRST116 and inserts nothing", async () => {
  const err = await expectError(
    await call("POST", "/notes", {
      body: [{ id: 1521, title: "x" }, { id: 1522, title: "y" }],
      headers: { Accept: "application/vnd.pgrst.object+json" },
    }),
    406,
    "PGRST116",
  );
  assert.equal(err.details, "The result contains 2 rows");
  assert.deepEqual(await rowsOf("notes", [1521, 1522], ["id"]), []);
});

test("singular Accept on a PATCH that matches 1 row returns the object", async () => {
  await seed("notes", [{ id: 1511, title: "solo", stars: 1 }]);
  const res = await call("PATCH", "/notes?id=eq.1511&select=id,stars", {
    body: { stars: 6 },
    prefer: "return=representation",
    headers: { Accept: "application/vnd.pgrst.object+json" },
  });
  assert.deepEqual(await expectJson(res, 200), { id: 1511, stars: 6 });
});

// ---------------------------------------------------------------- bad input

test("POST malformed JSON is 400 PGRST102 Empty or invalid json", async () => {
  const err = await expectError(
    await call("POST", "/notes", { body: '{"id": 1601, "title": ' }),
    400,
    "PGRST102",
  );
  assert.equal(err.message, "Empty or invalid json");
});

test("POST an empty body is 400 PGRST102 Empty or invalid json", async () => {
  const err = await expectError(
    await call("POST", "/notes", { body: "" }),
    400,
    "PGRST102",
  );
  assert.equal(err.message, "Empty or invalid json");
});

test("POST an array whose objects have different keys is 400 PGRST102", async () => {
  const err = await expectError(
    await call("POST", "/notes", {
      body: [{ id: 1602, title: "a" }, { id: 1603, title: "b", stars: 2 }],
    }),
    400,
    "PGRST102",
  );
  assert.equal(err.message, "All object keys must match");
  assert.deepEqual(await rowsOf("notes", [1602, 1603], ["id"]), []);
});

test("POST a CSV body with a short line is 400 PGRST102", async () => {
  const err = await expectError(
    await call("POST", "/notes", {
      body: "id,title\n1609,ok\n1610",
      headers: { "Content-Type": "text/csv" },
    }),
    400,
    "PGRST102",
  );
  assert.equal(err.message, "All lines must have same number of fields");
  assert.deepEqual(await rowsOf("notes", [1609, 1610], ["id"]), []);
});

test("POST text into an integer column is 400 22P02", async () => {
  const err = await expectError(
    await call("POST", "/notes", {
      body: { id: 1604, title: "t", stars: "many" },
    }),
    400,
    "22P02",
  );
  assert.match(err.message, /invalid input syntax for type integer/);
});

test("POST a duplicate key is 409 23505", async () => {
  await seed("kv", [{ k: "dup-1", v: "first" }]);
  const err = await expectError(
    await call("POST", "/kv", { body: { k: "dup-1", v: "second" } }),
    409,
    "23505",
  );
  assert.equal(err.details, "Key (k)=(dup-1) already exists.");
  assert.deepEqual(await rowsOf("kv", ["dup-1"], ["v"]), [{ v: "first" }]);
});

test("POST a dangling foreign key is 409 23503", async () => {
  const err = await expectError(
    await call("POST", "/notes", {
      body: { id: 1605, title: "orphan", person_id: 999 },
    }),
    409,
    "23503",
  );
  assert.match(err.message, /violates foreign key constraint/);
});

test("POST null into a NOT NULL column is 400 23502", async () => {
  const err = await expectError(
    await call("POST", "/notes", { body: { id: 1606, title: null } }),
    400,
    "23502",
  );
  assert.match(err.message, /null value in column "title"/);
});

test("writing a computed column of a view is 400 with PostgreSQL's 0A000", async () => {
  const err = await expectError(
    await call("POST", "/loud_notes", { body: { id: 1608, shout: "HEY" } }),
    400,
    "0A000",
  );
  assert.equal(
    err.message,
    'cannot insert into column "shout" of view "loud_notes"',
  );
  await expectError(
    await call("PATCH", "/loud_notes?id=eq.1608", { body: { shout: "HEY" } }),
    400,
    "0A000",
  );
  assert.deepEqual(await rowsOf("notes", [1608], ["id"]), []);
});

test("POST into an aggregate view is PostgreSQL's 55000, which PostgREST maps to 500", async () => {
  const err = await expectError(
    await call("POST", "/note_stats", { body: { n: 1 } }),
    500,
    "55000",
  );
  assert.equal(err.message, 'cannot insert into view "note_stats"');
  assert.equal(
    err.details,
    "Views that return aggregate functions are not automatically updatable.",
  );
});

test("POST with a Content-Type a table write does not read is 400 PGRST102, naming the media type", async () => {
  const res = await call("POST", "/notes", {
    body: "<note><id>1607</id></note>",
    headers: { "Content-Type": "Application/XML; charset=utf-8" },
  });
  const body = await expectError(res, 400, "PGRST102");
  assert.equal(body.message, "Content-Type not acceptable: application/xml");
  assert.deepEqual(await rowsOf("notes", [1607], ["id"]), []);
});

test("a bulk insert whose third row violates a constraint leaves no row of the batch", async () => {
  await expectError(
    await call("POST", "/notes", {
      body: [
        { id: 1611, title: "ok 1", person_id: 1 },
        { id: 1612, title: "ok 2", person_id: 2 },
        { id: 1613, title: null, person_id: 1 },
      ],
    }),
    400,
    "23502",
  );
  await expectError(
    await call("POST", "/notes", {
      body: [
        { id: 1614, title: "ok 1", person_id: 1 },
        { id: 1615, title: "ok 2", person_id: 2 },
        { id: 1616, title: "bad", person_id: 999 },
      ],
    }),
    409,
    "23503",
  );
  assert.deepEqual(
    await rowsOf("notes", [1611, 1612, 1613, 1614, 1615, 1616], ["id"]),
    [],
  );
});

// ---------------------------------------------------------------- row-level security

const ALICE = { role: "web_user", sub: "w-alice" };
const BOB = { role: "web_user", sub: "w-bob" };

test("under RLS a user inserts, updates and deletes their own rows", async () => {
  const alice = await token(ALICE);
  await expectEmpty(
    await call("POST", "/owned", {
      body: { id: 1701, owner: "w-alice", note: "mine" },
      token: alice,
    }),
    201,
  );
  const patch = await call("PATCH", "/owned?id=eq.1701", {
    body: { note: "edited" },
    token: alice,
  });
  await expectEmpty(patch, 204);
  assert.equal(patch.headers.get("Content-Range"), "0-0/*");
  assert.deepEqual(
    await expectJson(
      await call("GET", "/owned?id=eq.1701", { token: alice }),
      200,
    ),
    [{ id: 1701, owner: "w-alice", note: "edited" }],
  );
  assert.deepEqual(
    await expectJson(
      await call("DELETE", "/owned?id=eq.1701", {
        token: alice,
        prefer: "return=representation",
      }),
      200,
    ),
    [{ id: 1701, owner: "w-alice", note: "edited" }],
  );
  assert.deepEqual(await rowsOf("owned", [1701], ["id"]), []);
});

test("under RLS another user can neither see, update nor delete the owner's rows", async () => {
  await seed("owned", [{ id: 1711, owner: "w-alice", note: "original" }]);
  const bob = await token(BOB);
  assert.deepEqual(
    await expectJson(
      await call("GET", "/owned?id=eq.1711", { token: bob }),
      200,
    ),
    [],
  );
  const patch = await call("PATCH", "/owned?id=eq.1711", {
    body: { note: "hijacked" },
    token: bob,
  });
  await expectEmpty(patch, 204);
  assert.equal(patch.headers.get("Content-Range"), "*/*");
  const rep = await call("PATCH", "/owned?id=eq.1711", {
    body: { note: "hijacked" },
    token: bob,
    prefer: "return=representation",
  });
  assert.deepEqual(await expectJson(rep, 200), []);
  const del = await call("DELETE", "/owned?id=eq.1711", {
    token: bob,
    prefer: "count=exact",
  });
  await expectEmpty(del, 204);
  assert.equal(del.headers.get("Content-Range"), "*/0");
  assert.deepEqual(await rowsOf("owned", [1711], ["owner", "note"]), [
    { owner: "w-alice", note: "original" },
  ]);
});

test("under RLS writing a row owned by someone else fails WITH CHECK: 403 42501", async () => {
  const bob = await token(BOB);
  await expectError(
    await call("POST", "/owned", {
      body: { id: 1721, owner: "w-alice", note: "forged" },
      token: bob,
    }),
    403,
    "42501",
  );
  assert.deepEqual(await rowsOf("owned", [1721], ["id"]), []);

  await seed("owned", [{ id: 1722, owner: "w-bob", note: "bob's" }]);
  await expectError(
    await call("PATCH", "/owned?id=eq.1722", {
      body: { owner: "w-alice" },
      token: bob,
    }),
    403,
    "42501",
  );
  assert.deepEqual(await rowsOf("owned", [1722], ["owner"]), [
    { owner: "w-bob" },
  ]);
});

test("an anonymous insert into the RLS table is 401 42501", async () => {
  const res = await call("POST", "/owned", {
    body: { id: 1731, owner: "w-alice", note: "anon" },
  });
  await expectError(res, 401, "42501");
  assert.equal(res.headers.get("WWW-Authenticate"), "Bearer");
  assert.deepEqual(await rowsOf("owned", [1731], ["id"]), []);
});

// ------------------------------------------------- large bodies (worker)

test("a JSON body over 256 KiB, parsed on the worker thread, inserts every row", async () => {
  const rows = Array.from({ length: 4000 }, (_, i) => ({
    k: `big-${i}`,
    v: `value ${i} ${"x".repeat(60)}`,
  }));
  const body = JSON.stringify(rows);
  assert.ok(body.length > 256 * 1024);
  const res = await call("POST", "/kv", { body, prefer: "count=exact" });
  await expectEmpty(res, 201);
  assert.equal(res.headers.get("Content-Range"), "*/4000");
  assert.deepEqual(await rowsOf("kv", ["big-0", "big-3999"], ["k", "v"]), [
    { k: "big-0", v: rows[0]?.v },
    { k: "big-3999", v: rows[3999]?.v },
  ]);
});

test("a large JSON body's errors are those of a small one: invalid JSON, keys that differ", async () => {
  const rows = Array.from({ length: 4000 }, (_, i) => ({
    k: `bad-${i}`,
    v: "y".repeat(70),
  }));
  const text = JSON.stringify(rows);
  const broken = await call("POST", "/kv", { body: text.slice(0, -1) });
  assert.deepEqual(await expectJson(broken, 400), {
    code: "PGRST102",
    details: null,
    hint: null,
    message: "Empty or invalid json",
  });
  const differing = await call("POST", "/kv", {
    body: JSON.stringify([...rows, { k: "bad-x", code: "c" }]),
  });
  assert.deepEqual(await expectJson(differing, 400), {
    code: "PGRST102",
    details: null,
    hint: null,
    message: "All object keys must match",
  });
  assert.deepEqual(await rowsOf("kv", ["bad-0"], ["k"]), []);
  // ?columns= does not ask for matching keys
  const res = await call("POST", "/kv?columns=k,v", {
    body: JSON.stringify([...rows, { k: "bad-x", code: "c" }]),
    prefer: "count=exact",
  });
  await expectEmpty(res, 201);
  assert.equal(res.headers.get("Content-Range"), "*/4001");
});

test("an invalid JSON body is 400 PGRST102 before the target is looked up, whatever its size", async () => {
  for (const body of ['{"id":', `[${'{"k":"x"},'.repeat(30_000)}`]) {
    const res = await call("POST", "/no_such_table", { body });
    const err = await expectError(res, 400, "PGRST102");
    assert.equal(err.message, "Empty or invalid json");
  }
});
