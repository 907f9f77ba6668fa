/**
 * Tests of relationship discovery for embedding on hand-built schema caches:
 * many-to-one, one-to-many, one-to-one, many-to-many through a junction,
 * self-references, hints, FK columns and constraint names as targets,
 * computed relationships, relationships through chains of views, and the
 * PGRST200/PGRST201 errors with PostgREST's messages.
 *
 * @module
 */

import assert from "node:assert/strict";
import { PgrstError } from "../error.ts";
import {
  type Column,
  type ForeignKey,
  qualifiedKey,
  type Routine,
  type SchemaCache,
  type Table,
} from "../schema_cache/types.ts";
import {
  baseKeysOf,
  expandThroughViews,
  type RelationInfo,
  resolveViewColumns,
  type ViewInfo,
} from "../schema_cache/view_relationships.ts";
import {
  isToOne,
  type Relationship,
  relationshipsFrom,
  resolveRelationship,
} from "./relationships.ts";

// ---------------------------------------------------------------- fixtures

function column(name: string, position: number): Column {
  return {
    name,
    description: null,
    nullable: true,
    type: "integer",
    nominalType: "integer",
    maxLength: null,
    defaultValue: null,
    generated: false,
    enumValues: [],
    position,
  };
}

function table(
  name: string,
  cols: readonly string[],
  opts: {
    schema?: string;
    primaryKey?: readonly string[];
    uniques?: readonly (readonly string[])[];
    isView?: boolean;
  } = {},
): Table {
  const columns = cols.map((c, i) => column(c, i + 1));
  const primaryKey = opts.primaryKey ?? [];
  return {
    schema: opts.schema ?? "api",
    name,
    description: null,
    isView: opts.isView ?? false,
    isPartitioned: false,
    insertable: true,
    updatable: true,
    deletable: true,
    primaryKey,
    uniques: opts.uniques ?? (primaryKey.length > 0 ? [primaryKey] : []),
    columns,
    columnsByName: new Map(columns.map((c) => [c.name, c])),
  };
}

function fk(
  constraint: string,
  from: string,
  columns: readonly string[],
  to: string,
  refColumns: readonly string[],
): ForeignKey {
  return {
    constraint,
    schema: "api",
    table: from,
    columns,
    refSchema: "api",
    refTable: to,
    refColumns,
  };
}

function cache(
  tables: readonly Table[],
  foreignKeys: readonly ForeignKey[],
  computed: readonly (readonly [Table, Routine])[] = [],
): SchemaCache {
  const byTable = new Map<string, Routine[]>();
  for (const [t, r] of computed) {
    const k = qualifiedKey(t.schema, t.name);
    byTable.set(k, [...(byTable.get(k) ?? []), r]);
  }
  return {
    tables: new Map(tables.map((t) => [qualifiedKey(t.schema, t.name), t])),
    foreignKeys,
    routines: new Map(),
    computed: byTable,
    pgVersion: 170000,
  };
}

function routine(
  name: string,
  arg: Table,
  returns: Table,
  opts: { returnsSet: boolean; estimatedRows: number },
): Routine {
  return {
    schema: "api",
    name,
    description: null,
    params: [{ name: "", type: arg.name, required: true, variadic: false }],
    returnTypeSchema: returns.schema,
    returnTypeName: returns.name,
    returnsSet: opts.returnsSet,
    returnsComposite: true,
    volatility: "s",
    estimatedRows: opts.estimatedRows,
    firstArgType: { schema: arg.schema, name: arg.name },
  };
}

function get(cache: SchemaCache, name: string): Table {
  const t = cache.tables.get(qualifiedKey("api", name));
  assert.ok(t !== undefined, `table ${name}`);
  return t;
}

/** The relationship without its tables, for compact comparisons. */
function summary(r: Relationship): Record<string, unknown> {
  switch (r.kind) {
    case "m2m":
      return {
        kind: r.kind,
        target: r.target.name,
        junction: r.junction.name,
        constraint: r.constraint,
        sourceConstraint: r.sourceConstraint,
        sourceColumns: r.sourceColumns,
        targetColumns: r.targetColumns,
      };
    case "computed":
      return {
        kind: r.kind,
        target: r.target.name,
        routine: r.routine.name,
        toOne: r.toOne,
      };
    default:
      return {
        kind: r.kind,
        target: r.target.name,
        constraint: r.constraint,
        columns: r.columns,
      };
  }
}

function resolve(
  c: SchemaCache,
  source: string,
  target: string,
  hint: string | null = null,
): Record<string, unknown> {
  return summary(resolveRelationship(c, get(c, source), target, hint));
}

/** Asserts that resolving throws a PgrstError and returns it. */
function resolveError(
  c: SchemaCache,
  source: string,
  target: string,
  hint: string | null = null,
): PgrstError {
  try {
    resolveRelationship(c, get(c, source), target, hint);
  } catch (e) {
    assert.ok(e instanceof PgrstError, String(e));
    return e;
  }
  assert.fail(`${source} -> ${target} resolved`);
}

const AUTHORS = table("authors", ["id", "name"], { primaryKey: ["id"] });
const BOOKS = table("books", ["id", "title", "author_id"], {
  primaryKey: ["id"],
});
const BOOKS_AUTHOR = fk(
  "books_author_id_fkey",
  "books",
  ["author_id"],
  "authors",
  ["id"],
);
const LIBRARY = cache([AUTHORS, BOOKS], [BOOKS_AUTHOR]);

// ---------------------------------------------------------------- cardinalities

Deno.test("a foreign key on the source is a many-to-one relationship", () => {
  assert.deepEqual(resolve(LIBRARY, "books", "authors"), {
    kind: "m2o",
    target: "authors",
    constraint: "books_author_id_fkey",
    columns: [["author_id", "id"]],
  });
  const r = resolveRelationship(LIBRARY, BOOKS, "authors", null);
  assert.equal(isToOne(r), true);
  assert.equal(r.source, BOOKS);
  assert.equal(r.target, AUTHORS);
});

Deno.test("a foreign key pointing at the source is a one-to-many relationship", () => {
  assert.deepEqual(resolve(LIBRARY, "authors", "books"), {
    kind: "o2m",
    target: "books",
    constraint: "books_author_id_fkey",
    columns: [["id", "author_id"]],
  });
  assert.equal(
    isToOne(resolveRelationship(LIBRARY, AUTHORS, "books", null)),
    false,
  );
});

Deno.test("relationshipsFrom() lists both directions of every foreign key", () => {
  const kinds = (t: Table) =>
    relationshipsFrom(LIBRARY, t).map((r) => `${r.kind}:${r.target.name}`);
  assert.deepEqual(kinds(BOOKS), ["m2o:authors"]);
  assert.deepEqual(kinds(AUTHORS), ["o2m:books"]);
});

Deno.test("a foreign key whose columns are unique is one-to-one both ways", () => {
  const profiles = table("profiles", ["id", "author_id", "bio"], {
    primaryKey: ["id"],
    uniques: [["id"], ["author_id"]],
  });
  const c = cache([AUTHORS, profiles], [
    fk("profiles_author_id_fkey", "profiles", ["author_id"], "authors", [
      "id",
    ]),
  ]);
  assert.deepEqual(resolve(c, "authors", "profiles"), {
    kind: "o2o",
    target: "profiles",
    constraint: "profiles_author_id_fkey",
    columns: [["id", "author_id"]],
  });
  assert.deepEqual(resolve(c, "profiles", "authors"), {
    kind: "o2o",
    target: "authors",
    constraint: "profiles_author_id_fkey",
    columns: [["author_id", "id"]],
  });
  assert.equal(
    isToOne(resolveRelationship(c, get(c, "authors"), "profiles", null)),
    true,
  );
});

Deno.test("a foreign key that is its table's primary key is one-to-one", () => {
  const details = table("author_details", ["author_id", "born"], {
    primaryKey: ["author_id"],
  });
  const c = cache([AUTHORS, details], [
    fk(
      "author_details_author_id_fkey",
      "author_details",
      ["author_id"],
      "authors",
      [
        "id",
      ],
    ),
  ]);
  assert.equal(resolve(c, "authors", "author_details")["kind"], "o2o");
});

Deno.test("a foreign key covered only partly by a unique key stays one-to-many", () => {
  const editions = table("editions", ["author_id", "year"], {
    uniques: [["author_id", "year"]],
  });
  const c = cache([AUTHORS, editions], [
    fk("editions_author_id_fkey", "editions", ["author_id"], "authors", [
      "id",
    ]),
  ]);
  assert.equal(resolve(c, "authors", "editions")["kind"], "o2m");
  assert.equal(resolve(c, "editions", "authors")["kind"], "m2o");
});

// ---------------------------------------------------------------- many-to-many

const TAGS = table("tags", ["id", "label"], { primaryKey: ["id"] });
const BOOK_TAGS_FKS = [
  fk("book_tags_book_id_fkey", "book_tags", ["book_id"], "books", ["id"]),
  fk("book_tags_tag_id_fkey", "book_tags", ["tag_id"], "tags", ["id"]),
];

Deno.test("a junction whose primary key covers both foreign keys is many-to-many", () => {
  const junction = table("book_tags", ["book_id", "tag_id"], {
    primaryKey: ["book_id", "tag_id"],
  });
  const c = cache([BOOKS, TAGS, junction], BOOK_TAGS_FKS);
  assert.deepEqual(resolve(c, "books", "tags"), {
    kind: "m2m",
    target: "tags",
    junction: "book_tags",
    constraint: "book_tags_tag_id_fkey",
    sourceConstraint: "book_tags_book_id_fkey",
    sourceColumns: [["id", "book_id"]],
    targetColumns: [["id", "tag_id"]],
  });
  assert.deepEqual(resolve(c, "tags", "books"), {
    kind: "m2m",
    target: "books",
    junction: "book_tags",
    constraint: "book_tags_book_id_fkey",
    sourceConstraint: "book_tags_tag_id_fkey",
    sourceColumns: [["id", "tag_id"]],
    targetColumns: [["id", "book_id"]],
  });
  assert.equal(
    isToOne(resolveRelationship(c, get(c, "books"), "tags", null)),
    false,
  );
  // the junction itself is still embeddable one-to-many
  assert.equal(resolve(c, "books", "book_tags")["kind"], "o2m");
});

Deno.test("a junction with a surrogate primary key gives no many-to-many", () => {
  const junction = table("book_tags", ["id", "book_id", "tag_id"], {
    primaryKey: ["id"],
  });
  const c = cache([BOOKS, TAGS, junction], BOOK_TAGS_FKS);
  assert.equal(
    relationshipsFrom(c, get(c, "books")).some((r) => r.kind === "m2m"),
    false,
  );
  const e = resolveError(c, "books", "tags");
  assert.equal(e.status, 400);
  assert.equal(e.code, "PGRST200");
});

Deno.test("a junction whose primary key covers one foreign key only gives no many-to-many", () => {
  const junction = table("book_tags", ["book_id", "seq", "tag_id"], {
    primaryKey: ["book_id", "seq"],
  });
  const c = cache([BOOKS, TAGS, junction], BOOK_TAGS_FKS);
  assert.equal(resolveError(c, "books", "tags").code, "PGRST200");
  assert.equal(resolveError(c, "tags", "books").code, "PGRST200");
});

Deno.test("a junction hint by junction name picks the many-to-many", () => {
  const junction = table("book_tags", ["book_id", "tag_id"], {
    primaryKey: ["book_id", "tag_id"],
  });
  const other = table("book_favourites", ["book_id", "tag_id"], {
    primaryKey: ["book_id", "tag_id"],
  });
  const c = cache([BOOKS, TAGS, junction, other], [
    ...BOOK_TAGS_FKS,
    fk(
      "book_favourites_book_id_fkey",
      "book_favourites",
      ["book_id"],
      "books",
      [
        "id",
      ],
    ),
    fk("book_favourites_tag_id_fkey", "book_favourites", ["tag_id"], "tags", [
      "id",
    ]),
  ]);
  const e = resolveError(c, "books", "tags");
  assert.equal(e.status, 300);
  assert.equal(e.code, "PGRST201");
  // in PostgREST's order: by junction name
  assert.equal(
    e.hint,
    "Try changing 'tags' to one of the following: 'tags!book_favourites', 'tags!book_tags'. Find the desired relationship in the 'details' key.",
  );
  assert.deepEqual(e.details, [
    {
      cardinality: "many-to-many",
      embedding: "books with tags",
      relationship:
        "book_favourites using book_favourites_book_id_fkey(book_id) and book_favourites_tag_id_fkey(tag_id)",
    },
    {
      cardinality: "many-to-many",
      embedding: "books with tags",
      relationship:
        "book_tags using book_tags_book_id_fkey(book_id) and book_tags_tag_id_fkey(tag_id)",
    },
  ]);
  assert.equal(
    resolve(c, "books", "tags", "book_favourites")["junction"],
    "book_favourites",
  );
  assert.equal(
    resolve(c, "books", "tags", "book_tags")["junction"],
    "book_tags",
  );
});

// ---------------------------------------------------------------- self-reference

const EMPLOYEES = table("employees", ["id", "name", "manager_id"], {
  primaryKey: ["id"],
});
const STAFF = cache([EMPLOYEES], [
  fk("employees_manager_id_fkey", "employees", ["manager_id"], "employees", [
    "id",
  ]),
]);

Deno.test("a table embedding itself by name gets its children", () => {
  assert.deepEqual(resolve(STAFF, "employees", "employees"), {
    kind: "o2m",
    target: "employees",
    constraint: "employees_manager_id_fkey",
    columns: [["id", "manager_id"]],
  });
});

Deno.test("a self-reference hinted by its FK column still gets the children", () => {
  assert.equal(
    resolve(STAFF, "employees", "employees", "manager_id")["kind"],
    "o2m",
  );
  // as PostgREST: a self-reference's hint names the referencing column only
  assert.equal(
    resolveError(STAFF, "employees", "employees", "employees_manager_id_fkey")
      .code,
    "PGRST200",
  );
});

Deno.test("a self-reference's parent is embedded by the FK column, not the constraint name", () => {
  const parent = {
    kind: "m2o",
    target: "employees",
    constraint: "employees_manager_id_fkey",
    columns: [["manager_id", "id"]],
  };
  assert.deepEqual(resolve(STAFF, "employees", "manager_id"), parent);
  assert.equal(
    resolveError(STAFF, "employees", "employees_manager_id_fkey").code,
    "PGRST200",
  );
});

Deno.test("a table with two self-references embedding itself is ambiguous", () => {
  const people = table("people", ["id", "manager_id", "mentor_id"], {
    primaryKey: ["id"],
  });
  const c = cache([people], [
    fk("people_manager_id_fkey", "people", ["manager_id"], "people", ["id"]),
    fk("people_mentor_id_fkey", "people", ["mentor_id"], "people", ["id"]),
  ]);
  const e = resolveError(c, "people", "people");
  assert.equal(e.status, 300);
  assert.equal(e.code, "PGRST201");
  assert.equal(resolve(c, "people", "people", "mentor_id")["kind"], "o2m");
  assert.deepEqual(resolve(c, "people", "people", "mentor_id")["columns"], [
    ["id", "mentor_id"],
  ]);
});

// ---------------------------------------------------------------- ambiguity and hints

const BOOKS2 = table("books", ["id", "title", "author_id", "editor_id"], {
  primaryKey: ["id"],
});
const EDITED = cache([AUTHORS, BOOKS2], [
  BOOKS_AUTHOR,
  fk("books_editor_id_fkey", "books", ["editor_id"], "authors", ["id"]),
]);

Deno.test("two foreign keys to the same table are ambiguous: 300 PGRST201", () => {
  const e = resolveError(EDITED, "books", "authors");
  assert.equal(e.status, 300);
  assert.equal(e.code, "PGRST201");
  assert.equal(
    e.message,
    "Could not embed because more than one relationship was found for 'books' and 'authors'",
  );
  assert.deepEqual(e.details, [
    {
      cardinality: "many-to-one",
      embedding: "books with authors",
      relationship:
        "books_author_id_fkey using books(author_id) and authors(id)",
    },
    {
      cardinality: "many-to-one",
      embedding: "books with authors",
      relationship:
        "books_editor_id_fkey using books(editor_id) and authors(id)",
    },
  ]);
  assert.equal(
    e.hint,
    "Try changing 'authors' to one of the following: 'authors!books_author_id_fkey', 'authors!books_editor_id_fkey'. Find the desired relationship in the 'details' key.",
  );
});

Deno.test("the reverse of two foreign keys is ambiguous one-to-many", () => {
  const e = resolveError(EDITED, "authors", "books");
  assert.equal(e.code, "PGRST201");
  assert.ok(Array.isArray(e.details));
  assert.deepEqual(
    e.details.map((d) => (d as Record<string, unknown>)["cardinality"]),
    ["one-to-many", "one-to-many"],
  );
  assert.deepEqual(
    e.details.map((d) => (d as Record<string, unknown>)["embedding"]),
    ["authors with books", "authors with books"],
  );
});

Deno.test("a hint by constraint name picks one of the ambiguous relationships", () => {
  assert.deepEqual(
    resolve(EDITED, "books", "authors", "books_editor_id_fkey")["columns"],
    [["editor_id", "id"]],
  );
  assert.deepEqual(
    resolve(EDITED, "authors", "books", "books_author_id_fkey")["columns"],
    [["id", "author_id"]],
  );
});

Deno.test("a hint by FK column picks one of the ambiguous relationships", () => {
  assert.deepEqual(resolve(EDITED, "books", "authors", "editor_id"), {
    kind: "m2o",
    target: "authors",
    constraint: "books_editor_id_fkey",
    columns: [["editor_id", "id"]],
  });
  assert.equal(
    resolve(EDITED, "authors", "books", "author_id")["constraint"],
    "books_author_id_fkey",
  );
});

Deno.test("a hint matching both relationships (the referenced column) stays ambiguous", () => {
  const e = resolveError(EDITED, "books", "authors", "id");
  assert.equal(e.code, "PGRST201");
});

// ---------------------------------------------------------------- no relationship

Deno.test("tables without a foreign key between them: 400 PGRST200", () => {
  const c = cache([AUTHORS, TAGS], []);
  const e = resolveError(c, "authors", "tags");
  assert.equal(e.status, 400);
  assert.equal(e.code, "PGRST200");
  assert.equal(
    e.message,
    "Could not find a relationship between 'authors' and 'tags' in the schema cache",
  );
  assert.equal(
    e.details,
    "Searched for a foreign key relationship between 'authors' and 'tags' in the schema 'api', but no matches were found.",
  );
});

Deno.test("a hint that matches nothing is PGRST200 naming the hint", () => {
  const e = resolveError(LIBRARY, "books", "authors", "nope");
  assert.equal(e.status, 400);
  assert.equal(e.code, "PGRST200");
  assert.equal(
    e.details,
    "Searched for a foreign key relationship between 'books' and 'authors' using the hint 'nope' in the schema 'api', but no matches were found.",
  );
});

Deno.test("an unknown target is PGRST200", () => {
  const e = resolveError(LIBRARY, "books", "publishers");
  assert.equal(e.code, "PGRST200");
  assert.match(String(e.details), /'books' and 'publishers'/);
});

Deno.test("a table of another schema is not found by name", () => {
  const foreign = table("authors", ["id"], {
    schema: "other",
    primaryKey: ["id"],
  });
  const c = cache([BOOKS, foreign], [{
    ...BOOKS_AUTHOR,
    refSchema: "other",
  }]);
  assert.equal(resolveError(c, "books", "authors").code, "PGRST200");
});

// ---------------------------------------------------------------- column and constraint targets

Deno.test("an FK column used as target embeds the referenced table", () => {
  assert.deepEqual(resolve(LIBRARY, "books", "author_id"), {
    kind: "m2o",
    target: "authors",
    constraint: "books_author_id_fkey",
    columns: [["author_id", "id"]],
  });
});

Deno.test("a constraint name used as target embeds the referenced table", () => {
  assert.equal(
    resolve(LIBRARY, "books", "books_author_id_fkey")["target"],
    "authors",
  );
});

Deno.test("an FK column as target does not find the one-to-many side", () => {
  assert.equal(resolveError(LIBRARY, "authors", "author_id").code, "PGRST200");
});

Deno.test("an FK column as target does not consider views of the referenced table", () => {
  const view = table("authors_view", ["id", "name"], {
    isView: true,
    primaryKey: ["id"],
  });
  const c = cache([AUTHORS, BOOKS, view], [
    BOOKS_AUTHOR,
    // as expandThroughViews copies the key onto the view
    { ...BOOKS_AUTHOR, refTable: "authors_view" },
  ]);
  // by name, both the table and the view are reachable
  assert.equal(resolve(c, "books", "authors")["target"], "authors");
  assert.equal(resolve(c, "books", "authors_view")["target"], "authors_view");
  // by column or constraint, only the table: not ambiguous
  assert.equal(resolve(c, "books", "author_id")["target"], "authors");
  assert.equal(
    resolve(c, "books", "books_author_id_fkey")["target"],
    "authors",
  );
});

// ---------------------------------------------------------------- computed relationships

Deno.test("a function of the row returning one row is a to-one computed relationship", () => {
  const fn = routine("main_author", BOOKS, AUTHORS, {
    returnsSet: false,
    estimatedRows: 0,
  });
  const c = cache([AUTHORS, BOOKS], [], [[BOOKS, fn]]);
  assert.deepEqual(resolve(c, "books", "main_author"), {
    kind: "computed",
    target: "authors",
    routine: "main_author",
    toOne: true,
  });
  assert.equal(
    isToOne(resolveRelationship(c, BOOKS, "main_author", null)),
    true,
  );
});

Deno.test("a set-returning function with ROWS 1 is a to-one computed relationship", () => {
  const fn = routine("first_author", BOOKS, AUTHORS, {
    returnsSet: true,
    estimatedRows: 1,
  });
  const c = cache([AUTHORS, BOOKS], [], [[BOOKS, fn]]);
  assert.equal(
    isToOne(resolveRelationship(c, BOOKS, "first_author", null)),
    true,
  );
});

Deno.test("a set-returning function is a to-many computed relationship", () => {
  const fn = routine("co_authors", BOOKS, AUTHORS, {
    returnsSet: true,
    estimatedRows: 1000,
  });
  const c = cache([AUTHORS, BOOKS], [], [[BOOKS, fn]]);
  const r = resolveRelationship(c, BOOKS, "co_authors", null);
  assert.equal(r.kind, "computed");
  assert.equal(r.target, AUTHORS);
  assert.equal(isToOne(r), false);
});

Deno.test("a computed relationship overrides a foreign key of the same target name", () => {
  const fn = routine("authors", BOOKS, AUTHORS, {
    returnsSet: true,
    estimatedRows: 1000,
  });
  const c = cache([AUTHORS, BOOKS], [BOOKS_AUTHOR], [[BOOKS, fn]]);
  assert.equal(resolve(c, "books", "authors")["kind"], "computed");
});

Deno.test("a function of the row returning a scalar is no relationship", () => {
  const fn: Routine = {
    ...routine("title_length", BOOKS, AUTHORS, {
      returnsSet: false,
      estimatedRows: 0,
    }),
    returnTypeSchema: "pg_catalog",
    returnTypeName: "int4",
    returnsComposite: false,
  };
  const c = cache([AUTHORS, BOOKS], [], [[BOOKS, fn]]);
  assert.deepEqual(relationshipsFrom(c, BOOKS), []);
  assert.equal(resolveError(c, "books", "title_length").code, "PGRST200");
});

// ---------------------------------------------------------------- through views

/**
 * api.books(author_id) → api.authors(id); api.books_v over api.books,
 * api.books_vv over api.books_v (a chain) and api.authors_v over api.authors.
 */
function viewCache(): SchemaCache {
  const relations = new Map<number, RelationInfo>([
    [1, {
      schema: "api",
      name: "authors",
      isView: false,
      attnames: new Map([[1, "id"], [2, "name"]]),
    }],
    [2, {
      schema: "api",
      name: "books",
      isView: false,
      attnames: new Map([[1, "id"], [2, "title"], [3, "author_id"]]),
    }],
    [3, {
      schema: "api",
      name: "books_v",
      isView: true,
      attnames: new Map([[1, "id"], [2, "title"], [3, "writer"]]),
    }],
    [4, {
      schema: "api",
      name: "books_vv",
      isView: true,
      attnames: new Map([[1, "book_id"], [2, "writer_id"]]),
    }],
    [5, {
      schema: "api",
      name: "authors_v",
      isView: true,
      attnames: new Map([[1, "author_id"], [2, "name"]]),
    }],
  ]);
  const views: ViewInfo[] = [
    {
      oid: 3,
      sources: [
        { name: "id", relation: 2, attnum: 1 },
        { name: "title", relation: 2, attnum: 2 },
        { name: "writer", relation: 2, attnum: 3 },
      ],
    },
    {
      oid: 4,
      sources: [
        { name: "book_id", relation: 3, attnum: 1 },
        { name: "writer_id", relation: 3, attnum: 3 },
      ],
    },
    {
      oid: 5,
      sources: [
        { name: "author_id", relation: 1, attnum: 1 },
        { name: "name", relation: 1, attnum: 2 },
      ],
    },
  ];
  const tables = [
    AUTHORS,
    BOOKS,
    table("books_v", ["id", "title", "writer"], { isView: true }),
    table("books_vv", ["book_id", "writer_id"], { isView: true }),
    table("authors_v", ["author_id", "name"], { isView: true }),
  ];
  const expanded = expandThroughViews(
    new Map(tables.map((t) => [qualifiedKey(t.schema, t.name), t])),
    [BOOKS_AUTHOR],
    resolveViewColumns(views, relations),
  );
  return {
    tables: expanded.tables,
    foreignKeys: expanded.foreignKeys,
    routines: new Map(),
    computed: new Map(),
    pgVersion: 170000,
  };
}

Deno.test("a view at the end of a chain of views embeds the base table", () => {
  const c = viewCache();
  assert.deepEqual(resolve(c, "books_vv", "authors"), {
    kind: "m2o",
    target: "authors",
    constraint: "books_author_id_fkey",
    columns: [["writer_id", "id"]],
  });
});

Deno.test("a view of a chain embeds another view of the referenced table", () => {
  const c = viewCache();
  assert.deepEqual(resolve(c, "books_vv", "authors_v"), {
    kind: "m2o",
    target: "authors_v",
    constraint: "books_author_id_fkey",
    columns: [["writer_id", "author_id"]],
  });
  assert.deepEqual(resolve(c, "books_v", "authors_v")["columns"], [[
    "writer",
    "author_id",
  ]]);
});

Deno.test("a table embeds the views over its referencing table one-to-many", () => {
  const c = viewCache();
  assert.deepEqual(resolve(c, "authors", "books_vv"), {
    kind: "o2m",
    target: "books_vv",
    constraint: "books_author_id_fkey",
    columns: [["id", "writer_id"]],
  });
  assert.deepEqual(resolve(c, "authors_v", "books_v")["columns"], [[
    "author_id",
    "writer",
  ]]);
});

Deno.test("a view gets the primary key of its base table, so its keys stay unique", () => {
  const c = viewCache();
  assert.deepEqual(get(c, "authors_v").primaryKey, ["author_id"]);
  // authors_v.author_id is unique, so the view-to-view embed is still many-to-one
  assert.equal(resolve(c, "books_v", "authors_v")["kind"], "m2o");
});

// ---------------------------------------------------------------- PostgREST's order and view columns

Deno.test("an ambiguous embed lists one-to-many before many-to-one, as PostgREST orders them", () => {
  const agents = table("agents", ["id", "department_id"], {
    primaryKey: ["id"],
  });
  const departments = table("departments", ["id", "head_id"], {
    primaryKey: ["id"],
  });
  const c = cache([agents, departments], [
    fk(
      "agents_department_id_fkey",
      "agents",
      ["department_id"],
      "departments",
      ["id"],
    ),
    fk("departments_head_id_fkey", "departments", ["head_id"], "agents", [
      "id",
    ]),
  ]);
  const e = resolveError(c, "agents", "departments");
  assert.equal(e.code, "PGRST201");
  assert.deepEqual(
    (e.details as { cardinality: string }[]).map((d) => d.cardinality),
    ["one-to-many", "many-to-one"],
  );
  assert.equal(
    e.hint,
    "Try changing 'departments' to one of the following: 'departments!departments_head_id_fkey', 'departments!agents_department_id_fkey'. Find the desired relationship in the 'details' key.",
  );
});

Deno.test("a constraint name as target finds the one-to-many side but not views", () => {
  const view = table("books_view", ["id", "author_id"], { isView: true });
  const c = cache([AUTHORS, BOOKS, view], [
    BOOKS_AUTHOR,
    { ...BOOKS_AUTHOR, table: "books_view" },
  ]);
  assert.deepEqual(resolve(c, "authors", "books_author_id_fkey"), {
    kind: "o2m",
    target: "books",
    constraint: "books_author_id_fkey",
    columns: [["id", "author_id"]],
  });
});

Deno.test("PGRST200 suggests a close target among the source's relationships", () => {
  const e = resolveError(LIBRARY, "books", "author");
  assert.equal(e.code, "PGRST200");
  assert.equal(e.hint, "Perhaps you meant 'authors' instead of 'author'.");
  // an exact relationship target with a hint that matches nothing: no hint
  assert.equal(resolveError(LIBRARY, "books", "authors", "nope").hint, null);
});

/** Relations of a view test: base tables by OID 1.., views by OID 10... */
function viewsOver(
  bases: readonly {
    table: Table;
    oid: number;
  }[],
  views: readonly {
    table: Table;
    oid: number;
    sources: readonly (readonly [string, number, string])[];
  }[],
  fks: readonly ForeignKey[],
  hidden: readonly { table: Table; oid: number }[] = [],
): SchemaCache {
  const relations = new Map<number, RelationInfo>();
  for (const b of [...bases, ...hidden]) {
    relations.set(b.oid, {
      schema: b.table.schema,
      name: b.table.name,
      isView: false,
      attnames: new Map(b.table.columns.map((c) => [c.position, c.name])),
      primaryKey: b.table.primaryKey,
      uniques: b.table.uniques,
    });
  }
  for (const v of views) {
    relations.set(v.oid, {
      schema: v.table.schema,
      name: v.table.name,
      isView: true,
      attnames: new Map(v.table.columns.map((c) => [c.position, c.name])),
    });
  }
  const infos: ViewInfo[] = views.map((v) => ({
    oid: v.oid,
    sources: v.sources.map(([name, rel, col]) => {
      const r = relations.get(rel);
      const attnum =
        [...(r?.attnames ?? new Map<number, string>())].find(([, n]) =>
          n === col
        )?.[0] ?? 0;
      return { name, relation: rel, attnum };
    }),
  }));
  const tables = [...bases, ...views].map((x) => x.table);
  const expanded = expandThroughViews(
    new Map(tables.map((t) => [qualifiedKey(t.schema, t.name), t])),
    fks,
    resolveViewColumns(infos, relations),
    baseKeysOf(relations),
  );
  return {
    tables: expanded.tables,
    foreignKeys: expanded.foreignKeys,
    routines: new Map(),
    computed: new Map(),
    pgVersion: 170000,
  };
}

Deno.test("a view exposing key columns twice gives one relationship per column choice", () => {
  const t1 = table("t1", ["a", "b"], { primaryKey: ["a", "b"] });
  const t2 = table("t2", ["t1_a", "t1_b"]);
  const v1 = table("v1", ["a", "b"], { isView: true });
  const v2 = table("v2", ["t1_a1", "t1_b1", "t1_a2", "t1_b2"], {
    isView: true,
  });
  const c = viewsOver([{ table: t1, oid: 1 }, { table: t2, oid: 2 }], [
    { table: v1, oid: 10, sources: [["a", 1, "a"], ["b", 1, "b"]] },
    {
      table: v2,
      oid: 11,
      sources: [
        ["t1_a1", 2, "t1_a"],
        ["t1_b1", 2, "t1_b"],
        ["t1_a2", 2, "t1_a"],
        ["t1_b2", 2, "t1_b"],
      ],
    },
  ], [fk("t2_fkey", "t2", ["t1_a", "t1_b"], "t1", ["a", "b"])]);
  const e = resolveError(c, "v2", "v1");
  assert.equal(e.status, 300);
  assert.deepEqual(
    (e.details as { relationship: string }[]).map((d) => d.relationship),
    [
      "t2_fkey using v2(t1_a1, t1_b1) and v1(a, b)",
      "t2_fkey using v2(t1_a1, t1_b2) and v1(a, b)",
      "t2_fkey using v2(t1_a2, t1_b1) and v1(a, b)",
      "t2_fkey using v2(t1_a2, t1_b2) and v1(a, b)",
    ],
  );
});

Deno.test("each view column exposing a self-reference's column embeds the parent by its name", () => {
  const t = table("self_t", ["id", "parent"], {
    schema: "private",
    primaryKey: ["id"],
  });
  const v = table("self_v", ["grandparent", "parent", "id"], {
    isView: true,
  });
  const c = viewsOver([], [{
    table: v,
    oid: 10,
    sources: [["grandparent", 1, "parent"], ["parent", 1, "parent"], [
      "id",
      1,
      "id",
    ]],
  }], [{
    ...fk("self_fkey", "self_t", ["parent"], "self_t", ["id"]),
    schema: "private",
    refSchema: "private",
  }], [{ table: t, oid: 1 }]);
  assert.deepEqual(resolve(c, "self_v", "parent")["columns"], [[
    "parent",
    "id",
  ]]);
  assert.deepEqual(resolve(c, "self_v", "grandparent")["columns"], [[
    "grandparent",
    "id",
  ]]);
  // the view embedding itself by name: its children through either column
  assert.equal(resolveError(c, "self_v", "self_v").code, "PGRST201");
});

Deno.test("views of a junction in a hidden schema give a many-to-many between views", () => {
  const hidden = (name: string, cols: string[], pk: string[]) =>
    table(name, cols, { schema: "private", primaryKey: pk });
  const screens = hidden("screens", ["id", "name"], ["id"]);
  const labels = hidden("labels", ["id", "name"], ["id"]);
  const junction = hidden("label_screen", ["label_id", "screen_id"], [
    "label_id",
    "screen_id",
  ]);
  const view = (name: string, cols: string[]) =>
    table(name, cols, { isView: true });
  const c = viewsOver(
    [],
    [
      {
        table: view("screens", ["id", "name"]),
        oid: 10,
        sources: [["id", 1, "id"], ["name", 1, "name"]],
      },
      {
        table: view("labels", ["id", "name"]),
        oid: 11,
        sources: [["id", 2, "id"], ["name", 2, "name"]],
      },
      {
        table: view("label_screen", ["label_id", "screen_id"]),
        oid: 12,
        sources: [["label_id", 3, "label_id"], ["screen_id", 3, "screen_id"]],
      },
    ],
    [
      {
        ...fk("ls_label_fkey", "label_screen", ["label_id"], "labels", ["id"]),
        schema: "private",
        refSchema: "private",
      },
      {
        ...fk("ls_screen_fkey", "label_screen", ["screen_id"], "screens", [
          "id",
        ]),
        schema: "private",
        refSchema: "private",
      },
    ],
    [
      { table: screens, oid: 1 },
      { table: labels, oid: 2 },
      { table: junction, oid: 3 },
    ],
  );
  assert.deepEqual(get(c, "label_screen").primaryKey, [
    "label_id",
    "screen_id",
  ]);
  assert.deepEqual(resolve(c, "screens", "labels"), {
    kind: "m2m",
    target: "labels",
    junction: "label_screen",
    constraint: "ls_label_fkey",
    sourceConstraint: "ls_screen_fkey",
    sourceColumns: [["id", "screen_id"]],
    targetColumns: [["id", "label_id"]],
  });
});
