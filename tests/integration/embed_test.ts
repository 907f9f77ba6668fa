/**
 * Resource embedding against the fixture schema `embed`
 * (tests/fixtures/embed.sql), with the app built in-process like
 * read_test.ts: to-one, to-many, one-to-one and many-to-many embeds, aliases,
 * nesting, `!hint`s, `!inner`/`!left`, empty embeds, embedded filters, order
 * and ranges, embed null filters, related order, spreads, self-references,
 * views, computed relationships, aggregates, and the PGRST108/118/123/200/201
 * errors.
 *
 * Needs PGRST_TEST_DB_URI (set by `deno task test`).
 *
 * @module
 */

import assert from "node:assert/strict";
import { type Config, DEFAULT_CONFIG } from "../../src/config/types.ts";
import { makeHandler, type RunningApp, startApp } from "../../src/server.ts";

const uri = Deno.env.get("PGRST_TEST_DB_URI");

const BASE: Config = {
  ...DEFAULT_CONFIG,
  dbUri: uri ?? "",
  dbSchemas: ["embed"],
  dbAnonRole: "web_anon",
  dbPool: 2,
};

const CONFIGS = {
  main: BASE,
  aggregates: { ...BASE, dbAggregatesEnabled: true },
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

/** Sends a GET to the in-process app. */
async function get(
  path: string,
  config: keyof typeof CONFIGS = "main",
): Promise<Response> {
  const running = await app(config);
  assert.ok(running.state.cache !== null, "the schema cache is loaded");
  const handle = makeHandler(running.state);
  return await handle(new Request(`http://localhost${path}`));
}

/** GETs the path, asserts the status and returns the parsed body. */
async function getJson(
  path: string,
  status = 200,
  config: keyof typeof CONFIGS = "main",
): Promise<unknown> {
  const res = await get(path, config);
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`not JSON (status ${res.status}): ${text}`);
  }
  assert.equal(res.status, status, text);
  return body;
}

function test(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, ignore: uri === undefined, fn });
}

// ---------------------------------------------------------------- to-one and to-many

test("GET /books?select=title,authors(name) embeds the author object, null without one", async () => {
  assert.deepEqual(
    await getJson("/books?select=title,authors(name)&id=in.(1,5)&order=id"),
    [
      { title: "A Wizard of Earthsea", authors: { name: "Ursula" } },
      { title: "Anonymous Tales", authors: null },
    ],
  );
});

test("GET /authors?select=name,books(title) embeds arrays, [] without rows", async () => {
  assert.deepEqual(
    await getJson("/authors?select=name,books(title)&order=id&books.order=id"),
    [
      {
        name: "Ursula",
        books: [{ title: "A Wizard of Earthsea" }, {
          title: "The Dispossessed",
        }],
      },
      {
        name: "Terry",
        books: [{ title: "The Colour of Magic" }, { title: "Mort" }],
      },
      { name: "Nobody", books: [] },
    ],
  );
});

test("select=*,rel(*) embeds every column of both", async () => {
  assert.deepEqual(
    await getJson("/profiles?select=*,authors(*)&id=eq.10"),
    [{
      id: 10,
      author_id: 1,
      bio: "Earthsea",
      authors: { id: 1, name: "Ursula" },
    }],
  );
});

test("a one-to-one embed is an object in both directions", async () => {
  assert.deepEqual(
    await getJson("/authors?select=name,profiles(bio)&order=id"),
    [
      { name: "Ursula", profiles: { bio: "Earthsea" } },
      { name: "Terry", profiles: { bio: "Discworld" } },
      { name: "Nobody", profiles: null },
    ],
  );
  assert.deepEqual(
    await getJson("/profiles?select=bio,authors(name)&id=eq.20"),
    [{ bio: "Discworld", authors: { name: "Terry" } }],
  );
});

test("aliases rename the embed and its columns", async () => {
  assert.deepEqual(
    await getJson("/books?select=t:title,writer:authors(n:name)&id=eq.1"),
    [{ t: "A Wizard of Earthsea", writer: { n: "Ursula" } }],
  );
});

test("the same relation can be embedded twice under two aliases", async () => {
  assert.deepEqual(
    await getJson(
      "/authors?select=name,old:books(title),new:books(title)&id=eq.1&old.year=lt.1970&new.year=gt.1970",
    ),
    [{
      name: "Ursula",
      old: [{ title: "A Wizard of Earthsea" }],
      new: [{ title: "The Dispossessed" }],
    }],
  );
});

test("nested embeds follow each relationship with their own filters and order", async () => {
  assert.deepEqual(
    await getJson(
      "/authors?select=name,books(title,publishers!publisher_id(name),tags(name))&id=eq.2&books.order=id&books.tags.order=name.desc",
    ),
    [{
      name: "Terry",
      books: [
        {
          title: "The Colour of Magic",
          publishers: { name: "Gollancz" },
          tags: [{ name: "humour" }, { name: "fantasy" }],
        },
        {
          title: "Mort",
          publishers: { name: "Gollancz" },
          tags: [{ name: "humour" }, { name: "fantasy" }],
        },
      ],
    }],
  );
});

// ---------------------------------------------------------------- hints

test("rel!constraint_name picks one of two foreign keys to the same table", async () => {
  assert.deepEqual(
    await getJson(
      "/books?select=title,publishers!books_reprint_publisher_id_fkey(name)&id=eq.1",
    ),
    [{ title: "A Wizard of Earthsea", publishers: { name: "Gollancz" } }],
  );
});

test("rel!column picks the foreign key by its column", async () => {
  assert.deepEqual(
    await getJson(
      "/books?select=title,first:publishers!publisher_id(name),reprint:publishers!reprint_publisher_id(name)&id=in.(1,2)&order=id",
    ),
    [
      {
        title: "A Wizard of Earthsea",
        first: { name: "Ace" },
        reprint: { name: "Gollancz" },
      },
      { title: "The Dispossessed", first: { name: "Gollancz" }, reprint: null },
    ],
  );
});

test("hints also disambiguate the one-to-many direction", async () => {
  assert.deepEqual(
    await getJson(
      "/publishers?select=name,reprints:books!reprint_publisher_id(title)&id=eq.1",
    ),
    [{ name: "Ace", reprints: [{ title: "The Colour of Magic" }] }],
  );
});

test("an FK column used as target embeds the referenced row", async () => {
  assert.deepEqual(
    await getJson("/books?select=title,author_id(name)&id=eq.3"),
    [{ title: "The Colour of Magic", author_id: { name: "Terry" } }],
  );
});

// ---------------------------------------------------------------- join types and empty embeds

test("rel!inner drops parents without matching embedded rows", async () => {
  assert.deepEqual(
    await getJson(
      "/authors?select=name,books!inner(title)&books.year=gt.1980&order=id&books.order=id",
    ),
    [{
      name: "Terry",
      books: [{ title: "The Colour of Magic" }, { title: "Mort" }],
    }],
  );
});

test("rel!inner on a to-one embed filters the parents", async () => {
  assert.deepEqual(
    await getJson(
      "/books?select=title,authors!inner(name)&authors.name=eq.Ursula&order=id",
    ),
    [
      { title: "A Wizard of Earthsea", authors: { name: "Ursula" } },
      { title: "The Dispossessed", authors: { name: "Ursula" } },
    ],
  );
});

test("rel!left keeps every parent, with [] where the filter matched nothing", async () => {
  assert.deepEqual(
    await getJson(
      "/authors?select=name,books!left(title)&books.year=gt.1980&order=id&books.order=year",
    ),
    [
      { name: "Ursula", books: [] },
      {
        name: "Terry",
        books: [{ title: "The Colour of Magic" }, { title: "Mort" }],
      },
      { name: "Nobody", books: [] },
    ],
  );
});

test("an empty embed rel() filters without adding a key", async () => {
  assert.deepEqual(
    await getJson(
      "/books?select=title,authors()&authors.name=eq.Terry&authors=not.is.null&order=id",
    ),
    [{ title: "The Colour of Magic" }, { title: "Mort" }],
  );
});

test("an empty embed with !inner filters the parents", async () => {
  assert.deepEqual(
    await getJson(
      "/books?select=id,tags!inner()&tags.name=eq.humour&order=id",
    ),
    [{ id: 3 }, { id: 4 }],
  );
});

// ---------------------------------------------------------------- embedded filters, order, ranges

test("rel.col=eq.x filters the embedded rows only", async () => {
  assert.deepEqual(
    await getJson(
      "/authors?select=name,books(title)&books.title=eq.Mort&order=id",
    ),
    [
      { name: "Ursula", books: [] },
      { name: "Terry", books: [{ title: "Mort" }] },
      { name: "Nobody", books: [] },
    ],
  );
});

test("rel.or=(...) filters the embedded rows with a logic tree", async () => {
  assert.deepEqual(
    await getJson(
      "/authors?select=name,books(title)&books.or=(year.lt.1970,title.eq.Mort)&id=lte.2&order=id&books.order=id",
    ),
    [
      { name: "Ursula", books: [{ title: "A Wizard of Earthsea" }] },
      { name: "Terry", books: [{ title: "Mort" }] },
    ],
  );
});

test("rel.order, rel.limit and rel.offset apply per parent", async () => {
  assert.deepEqual(
    await getJson(
      "/authors?select=name,books(title)&books.order=year.desc&books.limit=1&books.offset=1&id=lte.2&order=id",
    ),
    [
      { name: "Ursula", books: [{ title: "A Wizard of Earthsea" }] },
      { name: "Terry", books: [{ title: "The Colour of Magic" }] },
    ],
  );
});

test("filters on a nested embed use the full path", async () => {
  assert.deepEqual(
    await getJson(
      "/authors?select=name,books(title,tags(name))&books.tags.name=eq.sci-fi&id=eq.1&books.order=id",
    ),
    [{
      name: "Ursula",
      books: [
        { title: "A Wizard of Earthsea", tags: [] },
        { title: "The Dispossessed", tags: [{ name: "sci-fi" }] },
      ],
    }],
  );
});

test("rel=is.null keeps parents without an embedded row", async () => {
  assert.deepEqual(
    await getJson("/books?select=title,authors(name)&authors=is.null"),
    [{ title: "Anonymous Tales", authors: null }],
  );
  assert.deepEqual(
    await getJson("/authors?select=name,books(id)&books=is.null"),
    [{ name: "Nobody", books: [] }],
  );
});

test("rel=not.is.null keeps parents with embedded rows", async () => {
  assert.deepEqual(
    await getJson(
      "/authors?select=name,books(id)&books.year=gt.1980&books=not.is.null&books.order=id",
    ),
    [{ name: "Terry", books: [{ id: 3 }, { id: 4 }] }],
  );
});

test("rel.is.null inside or= combines with other filters", async () => {
  assert.deepEqual(
    await getJson(
      "/books?select=id,authors()&or=(authors.is.null,id.eq.1)&order=id",
    ),
    [{ id: 1 }, { id: 5 }],
  );
});

test("order=rel(col).desc orders parents by a to-one embed's column", async () => {
  assert.deepEqual(
    await getJson(
      "/books?select=id,authors(name)&order=authors(name).desc.nullslast,id",
    ),
    [
      { id: 1, authors: { name: "Ursula" } },
      { id: 2, authors: { name: "Ursula" } },
      { id: 3, authors: { name: "Terry" } },
      { id: 4, authors: { name: "Terry" } },
      { id: 5, authors: null },
    ],
  );
});

// ---------------------------------------------------------------- spreads

test("a to-one spread ...rel(cols) lifts the columns into the parent", async () => {
  assert.deepEqual(
    await getJson(
      "/books?select=title,...authors(author:name),...publishers!publisher_id(publisher:name)&id=in.(1,5)&order=id",
    ),
    [
      { title: "A Wizard of Earthsea", author: "Ursula", publisher: "Ace" },
      { title: "Anonymous Tales", author: null, publisher: null },
    ],
  );
});

test("a to-many spread lifts each column as an array", async () => {
  assert.deepEqual(
    await getJson(
      "/authors?select=name,...books(title,year)&id=in.(1,3)&order=id&books.order=id",
    ),
    [
      {
        name: "Ursula",
        title: ["A Wizard of Earthsea", "The Dispossessed"],
        year: [1968, 1974],
      },
      { name: "Nobody", title: [], year: [] },
    ],
  );
});

// ---------------------------------------------------------------- many-to-many

test("a many-to-many embed goes through the junction table", async () => {
  assert.deepEqual(
    await getJson("/books?select=title,tags(name)&id=eq.3&tags.order=name"),
    [{
      title: "The Colour of Magic",
      tags: [{ name: "fantasy" }, { name: "humour" }],
    }],
  );
  assert.deepEqual(
    await getJson("/tags?select=name,books(id)&order=id&books.order=id"),
    [
      { name: "fantasy", books: [{ id: 1 }, { id: 3 }, { id: 4 }] },
      { name: "sci-fi", books: [{ id: 2 }] },
      { name: "humour", books: [{ id: 3 }, { id: 4 }] },
      { name: "unused", books: [] },
    ],
  );
});

test("the junction table itself embeds both sides", async () => {
  assert.deepEqual(
    await getJson(
      "/book_tags?select=books(id),tags(name)&book_id=eq.2",
    ),
    [{ books: { id: 2 }, tags: { name: "sci-fi" } }],
  );
});

// ---------------------------------------------------------------- self-reference

test("a table embedding itself by name gets its children", async () => {
  assert.deepEqual(
    await getJson(
      "/employees?select=name,employees(name)&id=in.(1,4)&order=id&employees.order=id",
    ),
    [
      { name: "Ada", employees: [{ name: "Bob" }, { name: "Cy" }] },
      { name: "Di", employees: [] },
    ],
  );
});

test("a self-reference hinted by its FK column gets the children too", async () => {
  assert.deepEqual(
    await getJson(
      "/employees?select=name,reports:employees!manager_id(name)&id=eq.2",
    ),
    [{ name: "Bob", reports: [{ name: "Di" }] }],
  );
});

test("a self-reference's parent is embedded through the FK column, not the constraint (as PostgREST)", async () => {
  assert.deepEqual(
    await getJson(
      "/employees?select=name,manager:manager_id(name)&id=in.(1,4)&order=id",
    ),
    [
      { name: "Ada", manager: null },
      { name: "Di", manager: { name: "Bob" } },
    ],
  );
  const body = await getJson(
    "/employees?select=name,boss:employees_manager_id_fkey(name)",
    400,
  ) as { code: string };
  assert.equal(body.code, "PGRST200");
});

test("self-references nest: managers of managers", async () => {
  assert.deepEqual(
    await getJson(
      "/employees?select=name,manager:manager_id(name,manager:manager_id(name))&id=eq.4",
    ),
    [{ name: "Di", manager: { name: "Bob", manager: { name: "Ada" } } }],
  );
});

// ---------------------------------------------------------------- views

test("a view over books embeds its author through the base foreign key", async () => {
  assert.deepEqual(
    await getJson("/books_view?select=title,writer_id,authors(name)&id=eq.3"),
    [{
      title: "The Colour of Magic",
      writer_id: 2,
      authors: { name: "Terry" },
    }],
  );
});

test("a table embeds a view over its referencing table", async () => {
  assert.deepEqual(
    await getJson(
      "/authors?select=name,books_view(title)&id=eq.1&books_view.order=year.desc",
    ),
    [{
      name: "Ursula",
      books_view: [{ title: "The Dispossessed" }, {
        title: "A Wizard of Earthsea",
      }],
    }],
  );
});

test("a view over a view embeds the base table's referenced row", async () => {
  assert.deepEqual(
    await getJson("/books_view2?select=title,w,authors(name)&book_id=eq.1"),
    [{ title: "A Wizard of Earthsea", w: 1, authors: { name: "Ursula" } }],
  );
});

test("a view embeds another view through the base foreign key", async () => {
  assert.deepEqual(
    await getJson(
      "/books_view2?select=book_id,writers(name)&book_id=in.(2,3)&order=book_id",
    ),
    [
      { book_id: 2, writers: { name: "Ursula" } },
      { book_id: 3, writers: { name: "Terry" } },
    ],
  );
  assert.deepEqual(
    await getJson(
      "/writers?select=name,books_view2(title)&writer_pk=eq.2&books_view2.order=book_id",
    ),
    [{
      name: "Terry",
      books_view2: [{ title: "The Colour of Magic" }, { title: "Mort" }],
    }],
  );
});

test("an FK column as target picks the table, not views of it", async () => {
  assert.deepEqual(
    await getJson("/books?select=id,author_id(name)&id=eq.2"),
    [{ id: 2, author_id: { name: "Ursula" } }],
  );
  assert.deepEqual(
    await getJson("/books_view2?select=book_id,w(name)&book_id=eq.4"),
    [{ book_id: 4, w: { name: "Terry" } }],
  );
});

// ---------------------------------------------------------------- computed relationships

test("a ROWS 1 computed relationship embeds one row or null", async () => {
  assert.deepEqual(
    await getJson("/authors?select=name,top_book(title)&order=id"),
    [
      { name: "Ursula", top_book: { title: "The Dispossessed" } },
      { name: "Terry", top_book: { title: "Mort" } },
      { name: "Nobody", top_book: null },
    ],
  );
});

test("a set-returning computed relationship embeds an array", async () => {
  assert.deepEqual(
    await getJson(
      "/authors?select=name,books_of(id)&id=in.(2,3)&order=id&books_of.order=id",
    ),
    [
      { name: "Terry", books_of: [{ id: 3 }, { id: 4 }] },
      { name: "Nobody", books_of: [] },
    ],
  );
});

// ---------------------------------------------------------------- aggregates

test("count() inside a to-many embed counts each parent's rows", async () => {
  assert.deepEqual(
    await getJson(
      "/authors?select=name,books(count())&order=id",
      200,
      "aggregates",
    ),
    [
      { name: "Ursula", books: [{ count: 2 }] },
      { name: "Terry", books: [{ count: 2 }] },
      { name: "Nobody", books: [{ count: 0 }] },
    ],
  );
});

test("aggregates inside an embed group by its other columns", async () => {
  assert.deepEqual(
    await getJson(
      "/publishers?select=name,books!publisher_id(author_id,year.max())&id=eq.2&books.order=author_id",
      200,
      "aggregates",
    ),
    [{
      name: "Gollancz",
      books: [{ author_id: 1, max: 1974 }, { author_id: 2, max: 1987 }],
    }],
  );
});

test("aggregates in a to-one spread are hoisted and grouped by the parent", async () => {
  const body = await getJson(
    "/books?select=...publishers!publisher_id(name,id.count())",
    200,
    "aggregates",
  );
  assert.ok(Array.isArray(body));
  const sorted = [...body].sort((a, b) =>
    String(a.name).localeCompare(String(b.name))
  );
  assert.deepEqual(sorted, [
    { name: "Ace", count: 1 },
    { name: "Gollancz", count: 3 },
    { name: null, count: 0 },
  ]);
});

test("a top-level aggregate groups by a spread embed's columns", async () => {
  const body = await getJson(
    "/books?select=year.min(),...authors(name)&authors=not.is.null",
    200,
    "aggregates",
  );
  assert.ok(Array.isArray(body));
  const sorted = [...body].sort((a, b) =>
    String(a.name).localeCompare(String(b.name))
  );
  assert.deepEqual(sorted, [
    { min: 1983, name: "Terry" },
    { min: 1968, name: "Ursula" },
  ]);
});

test("aggregates inside embeds are 400 PGRST123 when db-aggregates-enabled is off", async () => {
  const body = await getJson("/authors?select=name,books(count())", 400);
  assert.equal((body as { code: string }).code, "PGRST123");
  const spread = await getJson(
    "/books?select=...authors(name,id.count())",
    400,
  );
  assert.equal((spread as { code: string }).code, "PGRST123");
});

// ---------------------------------------------------------------- errors

test("embedding an unrelated table is 400 PGRST200", async () => {
  assert.deepEqual(
    await getJson("/authors?select=name,tags(name)", 400),
    {
      code: "PGRST200",
      details:
        "Searched for a foreign key relationship between 'authors' and 'tags' in the schema 'embed', but no matches were found.",
      hint: null,
      message:
        "Could not find a relationship between 'authors' and 'tags' in the schema cache",
    },
  );
});

test("a hint that matches no relationship is 400 PGRST200", async () => {
  const body = await getJson(
    "/books?select=title,publishers!nope(name)",
    400,
  ) as { code: string; details: string };
  assert.equal(body.code, "PGRST200");
  assert.match(body.details, /using the hint 'nope'/);
});

test("two foreign keys to the same table are 300 PGRST201 listing both", async () => {
  assert.deepEqual(
    await getJson("/books?select=title,publishers(name)", 300),
    {
      code: "PGRST201",
      details: [
        {
          cardinality: "many-to-one",
          embedding: "books with publishers",
          relationship:
            "books_publisher_id_fkey using books(publisher_id) and publishers(id)",
        },
        {
          cardinality: "many-to-one",
          embedding: "books with publishers",
          relationship:
            "books_reprint_publisher_id_fkey using books(reprint_publisher_id) and publishers(id)",
        },
      ],
      hint:
        "Try changing 'publishers' to one of the following: 'publishers!books_publisher_id_fkey', 'publishers!books_reprint_publisher_id_fkey'. Find the desired relationship in the 'details' key.",
      message:
        "Could not embed because more than one relationship was found for 'books' and 'publishers'",
    },
  );
});

test("a filter on a resource that is not embedded is 400 PGRST108", async () => {
  assert.deepEqual(
    await getJson("/authors?select=name&books.year=gt.1980", 400),
    {
      code: "PGRST108",
      details: null,
      hint: "Verify that 'books' is included in the 'select' query parameter.",
      message: "'books' is not an embedded resource in this request",
    },
  );
  const ordered = await getJson(
    "/authors?select=name&books.order=year",
    400,
  ) as { code: string };
  assert.equal(ordered.code, "PGRST108");
  const limited = await getJson(
    "/authors?select=name&books.limit=1",
    400,
  ) as { code: string };
  assert.equal(limited.code, "PGRST108");
});

test("order=rel(col) on a to-many embed is 400 PGRST118", async () => {
  const body = await getJson(
    "/authors?select=name,books(title)&order=books(title)",
    400,
  ) as { code: string; message: string };
  assert.equal(body.code, "PGRST118");
  assert.equal(body.message, "A related order on 'books' is not possible");
});

// ---------------------------------------------------------------- jsonb embeds

test("embedded objects and arrays are jsonb, as in PostgREST (its text form has spaces)", async () => {
  const res = await get(
    "/authors?id=eq.1&select=name,profiles(bio),books(id)&books.order=id",
  );
  assert.equal(res.status, 200);
  assert.equal(
    await res.text(),
    '[{"name":"Ursula","profiles":{"bio": "Earthsea"},"books":[{"id": 1}, {"id": 2}]}]',
  );
});

test("a to-one spread with a nested embed groups its aggregates by the embedded object", async () => {
  const body = await getJson(
    "/books?select=...authors(profiles(bio)),year.sum()",
    200,
    "aggregates",
  ) as { profiles: unknown; sum: number }[];
  assert.deepEqual(
    body.sort((a, b) => a.sum - b.sum),
    [
      { profiles: { bio: "Earthsea" }, sum: 3942 },
      { profiles: { bio: "Discworld" }, sum: 3970 },
      { profiles: null, sum: 1990 },
    ].sort((a, b) => a.sum - b.sum),
  );
});
