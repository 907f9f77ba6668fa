/**
 * Owns the injection fuzzer's request generator: a seeded PRNG (mulberry32),
 * the hostile strings (quotes of every kind, backslashes, `;`, `--`, `/*`,
 * `$$`, NUL, Unicode look-alikes, very long names, …) and a grammar-aware
 * generator that builds valid-ish PostgREST requests against the
 * `tests/fixtures/security_fuzz.sql` schema, then puts hostile strings into
 * some of their positions: select items, aliases, casts, JSON paths,
 * aggregates, embeds and their hints, filters and their values, in-lists,
 * `or`/`and` trees, order, limit/offset, `columns`, `on_conflict`, table and
 * function names, RPC argument names and values, bodies, `Prefer`, the
 * profile headers, `Accept`, `Range`, `Content-Type` and JWT roles.
 *
 * Deterministic: the same seed gives the same requests.
 *
 * @module
 */

import * as jose from "jose";

/** A seeded PRNG (mulberry32) with a few helpers. */
export class Rng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** A copy that continues the same sequence independently. */
  clone(): Rng {
    const r = new Rng(0);
    r.#state = this.#state;
    return r;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    const v = items[this.int(items.length)];
    if (v === undefined) throw new Error("pick from an empty list");
    return v;
  }

  /** Between min and max elements of a list, in random order, repeats allowed. */
  some<T>(items: readonly T[], min: number, max: number): T[] {
    const n = min + this.int(max - min + 1);
    return Array.from({ length: n }, () => this.pick(items));
  }
}

// ---------------------------------------------------------------- hostile

/** The marker every secret value in the fixture holds. */
export const SECRET_MARKER = "SECRET_MARKER_7f3a9c";

/** What fuzz_private.canary() raises: it ran, so request text became SQL. */
export const CANARY_MARKER = "CANARY_EXECUTED";

const LONG = "a".repeat(64);

/** Hostile strings; some are grammar tokens, most are SQL-breaking text. */
export const HOSTILE: readonly string[] = [
  // quotes of every kind and backslashes
  "'",
  '"',
  "`",
  "''",
  '""',
  "\\",
  "\\\\",
  "\\'",
  '\\"',
  "E'\\x00'",
  'U&"\\0000"',
  "'||'",
  "$$",
  "$x$",
  "$1",
  "$2::text",
  "?",
  ":name",
  "%s",
  // statement breakers and comments
  ";",
  "--",
  "/*",
  "*/",
  "/**/",
  "'; drop table fuzz.parents; --",
  '"; drop table fuzz.parents; --',
  "1; select pg_sleep(5)",
  "') or ('1'='1",
  '") or true --',
  "' or 1=1 --",
  "1) union select secret from fuzz.vault --",
  'x" from fuzz.vault --',
  'id" , (select secret from fuzz.vault limit 1) as "x',
  "(select secret from fuzz.vault)",
  "'||(select secret from fuzz.vault limit 1)||'",
  "$$ || (select secret from fuzz.vault limit 1) || $$",
  "pg_sleep(10)",
  // the canary (tests/fixtures/security_fuzz.sql) in every quoting context
  "fuzz_private.canary()",
  "(select fuzz_private.canary())",
  "'||fuzz_private.canary()||'",
  '"||fuzz_private.canary()||"',
  "$$||fuzz_private.canary()||$$",
  "1 or fuzz_private.canary() is null",
  "x') or fuzz_private.canary() is null --",
  'x") or fuzz_private.canary() is null --',
  'id" = 1 or fuzz_private.canary() is null or "id',
  "\\'||fuzz_private.canary()||'",
  "1)::text || fuzz_private.canary() --",
  "1; select fuzz_private.canary()",
  "*/ fuzz_private.canary() /*",
  "text) || fuzz_private.canary() || cast(1 as text",
  "current_setting('request.jwt.claims')",
  // names of things the role may not see
  "vault",
  "fuzz.vault",
  '"fuzz"."vault"',
  "secret",
  "password",
  "pg_catalog.pg_authid",
  "pg_authid",
  "information_schema.tables",
  "public",
  "api",
  "fuzz_b",
  "peek_vault",
  // NUL and control characters
  "\u0000",
  "a\u0000b",
  "id\u0000",
  "\u0000' or 1=1 --",
  "\t",
  "\n",
  "\r\n",
  "\u0008",
  "\u007f",
  // Unicode look-alikes and oddities
  "\u2019",
  "\u02bc",
  "\uff07",
  "\uff02",
  "\u201c\u201d",
  "\uff1b",
  "\u037e",
  "\u2010\u2010",
  "\u2212\u2212",
  "\ufe63",
  "p\u0430rents",
  "\u200b",
  "\ufeff",
  "\u202e",
  "e\u0301",
  "\ud800",
  "\udfff",
  "\ud83d\ude00",
  "\u0130",
  "\u00df",
  // very long names and numbers
  LONG,
  LONG + "x",
  "b".repeat(63),
  "c".repeat(1000),
  "d".repeat(20000),
  "\u00e9".repeat(40),
  "99999999999999999999",
  "1e999",
  "-1",
  "-0",
  "NaN",
  "Infinity",
  "0x10",
  "2147483648",
  "-9223372036854775809",
  // grammar tokens
  "",
  " ",
  "*",
  "(",
  ")",
  "()",
  ",",
  ".",
  "..",
  "...",
  ":",
  "::",
  "->",
  "->>",
  "!",
  "!inner",
  "{",
  "}",
  "{}",
  "{a,b}",
  "[",
  "]",
  "[]",
  "&",
  "=",
  "#",
  "+",
  "%",
  "%00",
  "%zz",
  "%ED%A0%80",
  "%FF",
  "null",
  "NULL",
  "true",
  "not",
  "not.eq",
  "eq.",
  "in.(",
  "is.",
  "count()",
  "count(*)",
  "sum()",
  "select",
  "from",
  "user",
  "current_user",
  "session_user",
  '{"a":1}',
  "[1,2]",
  "<script>alert(1)</script>",
  "${x}",
  "{{x}}",
];

/**
 * Hostile strings as an HTTP/1.1 request header can carry them: tab, space,
 * visible ASCII and latin-1 (hyper refuses other control characters with a
 * 400 before the handler runs).
 */
export function headerSafe(s: string): string {
  let out = "";
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    if ((cp < 0x20 && cp !== 9) || cp === 0x7f || cp > 0xff) continue;
    out += ch;
  }
  return out.length > 4000 ? out.slice(0, 4000) : out;
}

/** Percent-encodes every byte of the UTF-8 form (lone surrogates → U+FFFD). */
export function encodeAll(s: string): string {
  let out = "";
  for (const b of new TextEncoder().encode(s)) {
    const unreserved = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) ||
      (b >= 0x61 && b <= 0x7a) || b === 0x2d || b === 0x2e || b === 0x5f ||
      b === 0x7e;
    out += unreserved
      ? String.fromCharCode(b)
      : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** Quotes a name for the URL grammar: `"…"` with `\` before `"` and `\`. */
export function quoteName(s: string): string {
  return `"${s.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

// ---------------------------------------------------------------- model

interface TableModel {
  readonly schema: "fuzz" | "fuzz_b";
  readonly name: string;
  readonly columns: readonly string[];
  readonly embeds: readonly string[];
  readonly hints: readonly string[];
  readonly conflict: readonly string[];
}

const TABLES: readonly TableModel[] = [
  {
    schema: "fuzz",
    name: "parents",
    columns: [
      "id",
      "name",
      "info",
      "tags",
      "score",
      "born",
      "flag",
      "doc",
      "period",
      "mood",
      "shout",
    ],
    embeds: [
      "children",
      "kids",
      "labels",
      "links",
      "notes",
      "parent_labels",
      "vault",
      "accounts",
    ],
    hints: ["links_from_id_fkey", "links_to_id_fkey", "from_id", "to_id"],
    conflict: ["id"],
  },
  {
    schema: "fuzz",
    name: "children",
    columns: ["id", "parent_id", "label", "n", "made", "serial_no"],
    embeds: ["parents"],
    hints: ["children_parent_id_fkey", "parent_id"],
    conflict: ["id"],
  },
  {
    schema: "fuzz",
    name: "labels",
    columns: ["id", "name"],
    embeds: ["parents", "parent_labels"],
    hints: ["parent_labels"],
    conflict: ["id", "name"],
  },
  {
    schema: "fuzz",
    name: "parent_labels",
    columns: ["parent_id", "label_id"],
    embeds: ["parents", "labels"],
    hints: ["parent_labels_parent_id_fkey", "label_id"],
    conflict: ["parent_id", "label_id"],
  },
  {
    schema: "fuzz",
    name: "links",
    columns: ["id", "from_id", "to_id"],
    embeds: ["parents"],
    hints: ["links_from_id_fkey", "links_to_id_fkey", "from_id", "to_id"],
    conflict: ["id"],
  },
  {
    schema: "fuzz",
    name: "odd; name--",
    columns: ["id", 'quo"te', "semi;colon", "$$"],
    embeds: [],
    hints: [],
    conflict: ["id"],
  },
  {
    schema: "fuzz",
    name: "parent_names",
    columns: ["id", "name"],
    embeds: ["children"],
    hints: [],
    conflict: ["id"],
  },
  {
    schema: "fuzz",
    name: "notes",
    columns: ["id", "parent_id", "body", "hidden"],
    embeds: ["parents"],
    hints: [],
    conflict: ["id"],
  },
  {
    schema: "fuzz",
    name: "accounts",
    columns: ["id", "login", "password"],
    embeds: [],
    hints: [],
    conflict: ["id"],
  },
  {
    schema: "fuzz",
    name: "vault",
    columns: ["id", "parent_id", "secret"],
    embeds: ["parents"],
    hints: [],
    conflict: ["id"],
  },
  {
    schema: "fuzz_b",
    name: "things",
    columns: ["id", "name"],
    embeds: [],
    hints: [],
    conflict: ["id"],
  },
];

interface RoutineModel {
  readonly schema: "fuzz" | "fuzz_b";
  readonly name: string;
  readonly args: readonly string[];
  readonly volatile: boolean;
  readonly columns: readonly string[];
}

const ROUTINES: readonly RoutineModel[] = [
  {
    schema: "fuzz",
    name: "echo",
    args: ["a", "b"],
    volatile: false,
    columns: ["a", "b"],
  },
  {
    schema: "fuzz",
    name: "add",
    args: ["x", "y"],
    volatile: false,
    columns: [],
  },
  {
    schema: "fuzz",
    name: "find",
    args: ["q"],
    volatile: false,
    columns: ["id", "name", "info", "tags"],
  },
  { schema: "fuzz", name: "bump", args: ["n"], volatile: true, columns: [] },
  {
    schema: "fuzz",
    name: "peek_vault",
    args: [],
    volatile: false,
    columns: [],
  },
  { schema: "fuzz", name: "many", args: ["v"], volatile: false, columns: [] },
  {
    schema: "fuzz_b",
    name: "hello",
    args: ["name"],
    volatile: false,
    columns: [],
  },
];

const CASTS = ["text", "int", "bigint", "json", "jsonb", "numeric", "date"];
const SIMPLE_OPS = [
  "eq",
  "neq",
  "gt",
  "gte",
  "lt",
  "lte",
  "like",
  "ilike",
  "match",
  "imatch",
  "cs",
  "cd",
  "ov",
  "sl",
  "sr",
  "nxr",
  "nxl",
  "adj",
  "isdistinct",
];
const FTS = ["fts", "plfts", "phfts", "wfts"];
const QUANT = ["eq", "gt", "gte", "lt", "lte", "like", "ilike", "match"];
const VALUES = [
  "1",
  "happy",
  "[2,3]",
  "(,)",
  "2",
  "alpha",
  "a%",
  "*a*",
  "{x}",
  "{1,2}",
  "[1,5)",
  "2020-01-01",
  "true",
  "null",
  '{"a":1}',
  "1.5",
  "",
];
const PREFS = [
  "return=representation",
  "return=minimal",
  "return=headers-only",
  "count=exact",
  "count=planned",
  "count=estimated",
  "resolution=merge-duplicates",
  "resolution=ignore-duplicates",
  "missing=default",
  "missing=null",
  "handling=strict",
  "handling=lenient",
  "tx=commit",
  "tx=rollback",
  "timezone=UTC",
  "timezone=America/Los_Angeles",
  "max-affected=1",
  "params=single-object",
];
const ACCEPTS = [
  "application/json",
  "application/vnd.pgrst.object+json",
  "application/vnd.pgrst.array+json;nulls=stripped",
  "text/csv",
  "application/geo+json",
  'application/vnd.pgrst.plan+json; for="application/json"; options=analyze|verbose',
  "application/vnd.pgrst.plan+text",
  "text/plain",
  "application/octet-stream",
  "*/*",
  "text/tab-separated-values",
];

// ---------------------------------------------------------------- requests

/** One generated request, before it becomes a `Request`. */
export interface FuzzRequest {
  readonly method: string;
  /** The path, already percent-encoded. */
  readonly path: string;
  /** `key=value` parts, already encoded (or deliberately not). */
  readonly query: readonly string[];
  readonly headers: readonly (readonly [string, string])[];
  readonly body: string | null;
  /** How many positions were given a hostile string. */
  readonly hostile: number;
}

/** The fuzzer's JWT secret (the app under test is configured with it). */
export const FUZZ_JWT_SECRET = "fuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzz";

async function token(role: string): Promise<string> {
  return await new jose.SignJWT({ role })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .sign(new TextEncoder().encode(FUZZ_JWT_SECRET));
}

/** Signs a `web_user` token and tokens whose role is a hostile string. */
export async function makeTokens(): Promise<Tokens> {
  const roles = HOSTILE.filter((h) => h.length < 200).slice(0, 40);
  return {
    user: await token("web_user"),
    hostileRoles: await Promise.all(roles.map(token)),
  };
}

/** Tokens for the `Authorization` header, signed by the test. */
export interface Tokens {
  /** A token for `web_user`. */
  readonly user: string;
  /** Tokens whose `role` claim is a hostile string. */
  readonly hostileRoles: readonly string[];
}

class Gen {
  readonly rng: Rng;
  /** Probability that one position turns hostile. */
  readonly p: number;
  /** The index of the position that is hostile in any case (-1: none). */
  readonly forced: number;
  hostile = 0;
  /** Positions seen so far. */
  slots = 0;

  constructor(rng: Rng, p: number, forced: number) {
    this.rng = rng;
    this.p = p;
    this.forced = forced;
  }

  /** Whether the next position turns hostile. */
  turn(): boolean {
    const forced = this.slots === this.forced;
    this.slots++;
    return forced || this.rng.chance(this.p);
  }

  /** A hostile string, sometimes combined with `valid`. */
  evil(valid: string): string {
    this.hostile++;
    const h = this.rng.pick(HOSTILE);
    switch (this.rng.int(6)) {
      case 0:
        return valid + h;
      case 1:
        return h + valid;
      case 2: {
        const k = this.rng.int(valid.length + 1);
        return valid.slice(0, k) + h + valid.slice(k);
      }
      case 3:
        return h + this.rng.pick(HOSTILE);
      default:
        return h;
    }
  }

  /** A value position: usually `valid`, sometimes hostile. */
  v(valid: string): string {
    return this.turn() ? this.evil(valid) : valid;
  }

  /**
   * A name position in the URL grammar: usually `valid` (quoted when it
   * needs it), sometimes a hostile name, quoted so that it reaches the
   * planner (or bare, so that it reaches the parser).
   */
  name(valid: string): string {
    if (!this.turn()) {
      return /^[a-z_][a-z0-9_]*$/.test(valid) ? valid : quoteName(valid);
    }
    const h = this.evil(valid);
    return this.rng.chance(0.6) ? quoteName(h) : h;
  }
}

/** Encodes a query-string part; now and then leaves it raw. */
function enc(g: Gen, s: string): string {
  return g.rng.chance(0.08) ? s : encodeAll(s);
}

function field(g: Gen, t: TableModel): string {
  let f = g.name(g.rng.pick(t.columns));
  if (g.rng.chance(0.2)) {
    const steps = g.rng.some(["a", "b", "0", "1", "k'ey", "-1"], 1, 3);
    for (const s of steps) {
      f += g.rng.pick(["->", "->>"]) + g.name(s);
    }
  }
  return f;
}

function selectItem(g: Gen, t: TableModel, depth: number): string {
  const r = g.rng.int(10);
  if (r === 0) return "*";
  if (r === 1) {
    return g.v("count()") +
      (g.rng.chance(0.3) ? "::" + g.v(g.rng.pick(CASTS)) : "");
  }
  if (r <= 3 && depth < 3 && t.embeds.length > 0) {
    const embed = g.rng.pick(t.embeds);
    // kids is a computed relationship to children
    const name = embed === "kids" ? "children" : embed;
    const target = TABLES.find((x) => x.name === name) ?? t;
    let s = g.rng.chance(0.2) ? "..." : "";
    if (g.rng.chance(0.3)) s = g.name("alias_" + embed) + ":" + s;
    s += g.name(embed);
    if (g.rng.chance(0.35) && t.hints.length > 0) {
      s += "!" + g.name(g.rng.pick(t.hints));
    }
    if (g.rng.chance(0.2)) s += "!" + g.v(g.rng.pick(["inner", "left"]));
    const items = Array.from(
      { length: 1 + g.rng.int(3) },
      () => selectItem(g, target, depth + 1),
    );
    return `${s}(${items.join(",")})`;
  }
  let s = "";
  if (g.rng.chance(0.3)) s += g.name("al") + ":";
  s += field(g, t);
  if (g.rng.chance(0.25)) s += "::" + g.v(g.rng.pick(CASTS));
  if (g.rng.chance(0.15)) {
    s += "." + g.v(g.rng.pick(["count", "sum", "avg", "min", "max"])) + "()";
    if (g.rng.chance(0.3)) s += "::" + g.v(g.rng.pick(CASTS));
  }
  return s;
}

function select(g: Gen, t: TableModel): string {
  const n = 1 + g.rng.int(4);
  return Array.from({ length: n }, () => selectItem(g, t, 0)).join(",");
}

function listValues(g: Gen): string {
  const items = g.rng.some(VALUES, 1, 4).map((x) => {
    const v = g.v(x);
    return g.rng.chance(0.4) ? quoteName(v) : v;
  });
  return `(${items.join(",")})`;
}

/** An operator with its value, such as `not.eq.5` or `in.(1,2)`. */
function operation(g: Gen): string {
  let s = g.rng.chance(0.15) ? "not." : "";
  const r = g.rng.int(10);
  if (r === 0) s += "in." + listValues(g);
  else if (r === 1) {
    s += "is." +
      g.v(g.rng.pick(["null", "not_null", "true", "false", "unknown"]));
  } else if (r === 2) {
    s += g.rng.pick(FTS);
    if (g.rng.chance(0.5)) s += `(${g.v(g.rng.pick(["simple", "english"]))})`;
    s += "." + g.v(g.rng.pick(["alpha", "one & two", "a:*"]));
  } else if (r === 3) {
    s += `${g.rng.pick(QUANT)}(${g.rng.pick(["any", "all"])}).` +
      g.v(g.rng.pick(["{1,2}", "{a,b}", '{"x,y",z}']));
  } else {
    s += g.v(g.rng.pick(SIMPLE_OPS)) + "." + g.v(g.rng.pick(VALUES));
  }
  return s;
}

function logicTree(g: Gen, t: TableModel, depth: number): string {
  const n = 1 + g.rng.int(3);
  const parts = Array.from({ length: n }, () => {
    if (depth < 2 && g.rng.chance(0.25)) {
      const op = g.rng.pick(["and", "or", "not.and", "not.or"]);
      return `${op}${logicTree(g, t, depth + 1)}`;
    }
    return `${field(g, t)}.${operation(g)}`;
  });
  return `(${parts.join(",")})`;
}

function orderTerm(g: Gen, t: TableModel): string {
  let s = g.rng.chance(0.15) && t.embeds.length > 0
    ? `${g.name(g.rng.pick(t.embeds))}(${field(g, t)})`
    : field(g, t);
  if (g.rng.chance(0.5)) s += "." + g.v(g.rng.pick(["asc", "desc"]));
  if (g.rng.chance(0.3)) {
    s += "." + g.v(g.rng.pick(["nullsfirst", "nullslast"]));
  }
  return s;
}

/** Query parameters for a table: select, filters, logic, order, ranges. */
function tableQuery(g: Gen, t: TableModel, write: boolean): string[] {
  const q: string[] = [];
  const add = (k: string, v: string) => q.push(`${enc(g, k)}=${enc(g, v)}`);
  if (g.rng.chance(0.7)) add("select", select(g, t));
  const filters = g.rng.int(write ? 3 : 4);
  for (let i = 0; i < filters; i++) {
    let key = field(g, t);
    if (g.rng.chance(0.15) && t.embeds.length > 0) {
      key = `${g.name(g.rng.pick(t.embeds))}.${key}`;
    }
    add(key, operation(g));
  }
  if (g.rng.chance(0.3)) {
    const prefix = g.rng.chance(0.15) && t.embeds.length > 0
      ? g.name(g.rng.pick(t.embeds)) + "."
      : "";
    add(
      prefix + g.rng.pick(["or", "and", "not.or", "not.and"]),
      logicTree(g, t, 0),
    );
  }
  if (g.rng.chance(0.35)) {
    const prefix = g.rng.chance(0.15) && t.embeds.length > 0
      ? g.name(g.rng.pick(t.embeds)) + "."
      : "";
    const terms = Array.from(
      { length: 1 + g.rng.int(3) },
      () => orderTerm(g, t),
    );
    add(prefix + "order", terms.join(","));
  }
  if (g.rng.chance(0.3)) {
    const prefix = g.rng.chance(0.2) && t.embeds.length > 0
      ? g.name(g.rng.pick(t.embeds)) + "."
      : "";
    add(prefix + g.rng.pick(["limit", "offset"]), g.v(String(g.rng.int(5))));
  }
  return q;
}

function jsonBody(g: Gen, keys: readonly string[], rows: number): string {
  const row = (): Record<string, unknown> => {
    const o: Record<string, unknown> = {};
    for (const k of g.rng.some(keys, 1, keys.length)) {
      const name = g.v(k);
      const r = g.rng.int(5);
      o[name] = r === 0
        ? g.rng.int(100) + 10
        : r === 1
        ? null
        : r === 2
        ? [g.v("x")]
        : g.v(g.rng.pick(VALUES));
    }
    return o;
  };
  const value = rows === 1 && g.rng.chance(0.5)
    ? row()
    : Array.from({ length: rows }, row);
  return JSON.stringify(value);
}

function body(g: Gen, keys: readonly string[]): string {
  const r = g.rng.int(12);
  if (r === 0) return g.evil("{");
  if (r === 1) return `[${g.v("{}")}]`;
  if (r === 2) {
    return keys.join(",") + "\n" + keys.map(() => g.v("1")).join(",");
  }
  return jsonBody(g, keys, 1 + g.rng.int(3));
}

function headers(
  g: Gen,
  method: string,
  schema: string,
  tokens: Tokens,
  hasBody: boolean,
): [string, string][] {
  const h: [string, string][] = [];
  const hv = (s: string) => headerSafe(s);
  if (g.rng.chance(0.5)) {
    const prefs = g.rng.some(PREFS, 1, 3).map((p) => {
      if (!g.rng.chance(g.p)) return p;
      const [k = "", v = ""] = p.split("=");
      return g.rng.chance(0.5) ? `${k}=${g.evil(v)}` : `${g.evil(k)}=${v}`;
    });
    h.push(["Prefer", hv(prefs.join(", "))]);
  }
  const profile = method === "GET" || method === "HEAD"
    ? "Accept-Profile"
    : "Content-Profile";
  if (schema !== "fuzz" || g.rng.chance(0.2)) {
    h.push([profile, hv(g.v(schema))]);
  }
  if (g.rng.chance(0.05)) {
    // the other profile header, which this method ignores
    h.push([
      profile === "Accept-Profile" ? "Content-Profile" : "Accept-Profile",
      hv(g.evil(schema)),
    ]);
  }
  if (g.rng.chance(0.25)) h.push(["Accept", hv(g.v(g.rng.pick(ACCEPTS)))]);
  if (g.rng.chance(0.08)) {
    h.push(["Range", hv(g.v(g.rng.pick(["0-1", "1-", "items=0-0", "5-2"])))]);
  }
  if (hasBody) {
    const ct = g.rng.chance(0.15)
      ? g.v(g.rng.pick(["text/csv", "application/x-www-form-urlencoded"]))
      : g.v("application/json");
    h.push(["Content-Type", hv(ct)]);
  }
  if (g.rng.chance(0.05)) {
    h.push(["Cookie", hv(`session=${g.evil("s")}; ${g.evil("k")}=v`)]);
  }
  if (g.rng.chance(0.03)) {
    // a header name keeps only token characters
    const name = g.evil("X-").replace(/[^!#$%&'*+.^_`|~0-9A-Za-z-]/g, "");
    h.push([name === "" ? "X-E" : name, hv(g.evil("v"))]);
  }
  const auth = g.rng.int(20);
  if (auth === 0) h.push(["Authorization", `Bearer ${tokens.user}`]);
  else if (auth === 1) {
    h.push(["Authorization", `Bearer ${g.rng.pick(tokens.hostileRoles)}`]);
  } else if (auth === 2) h.push(["Authorization", hv(g.evil("Bearer "))]);
  return h;
}

function relationRequest(g: Gen, tokens: Tokens): FuzzRequest {
  const t = g.rng.pick(TABLES);
  const methods = [
    "GET",
    "GET",
    "GET",
    "HEAD",
    "POST",
    "PATCH",
    "PUT",
    "DELETE",
  ];
  const method = g.rng.pick(methods);
  const write = method !== "GET" && method !== "HEAD";
  const path = "/" + enc(g, g.v(t.name));
  const query = tableQuery(g, t, write);
  let b: string | null = null;
  if (method === "POST" || method === "PATCH" || method === "PUT") {
    b = body(g, t.columns);
    if (method === "POST" && g.rng.chance(0.3)) {
      query.push(
        `columns=${
          enc(
            g,
            g.rng.some(t.columns, 1, 3).map((c) => g.name(c)).join(","),
          )
        }`,
      );
    }
    if (method === "POST" && g.rng.chance(0.3)) {
      query.push(
        `on_conflict=${
          enc(g, g.rng.some(t.conflict, 1, 2).map((c) => g.name(c)).join(","))
        }`,
      );
    }
    if (method === "PUT" && g.rng.chance(0.8)) {
      query.push(`id=${enc(g, "eq." + g.v("1"))}`);
    }
  }
  const h = headers(g, method, t.schema, tokens, b !== null);
  return { method, path, query, headers: h, body: b, hostile: g.hostile };
}

function rpcRequest(g: Gen, tokens: Tokens): FuzzRequest {
  const r = g.rng.pick(ROUTINES);
  const method = g.rng.pick(["GET", "POST", "POST", "HEAD"]);
  const path = "/rpc/" + enc(g, g.v(r.name));
  const query: string[] = [];
  // mostly the function's own arguments, now and then too few or too many
  const args = g.rng.chance(0.7)
    ? [...r.args]
    : g.rng.some([...r.args, "extra"], 0, r.args.length + 1);
  let b: string | null = null;
  if (method === "POST") {
    const o: Record<string, unknown> = {};
    for (const a of args) {
      o[g.v(a)] = r.name === "many" && g.rng.chance(0.5)
        ? [g.v("x"), g.v("y")]
        : g.rng.chance(0.3)
        ? g.rng.int(100)
        : g.v(g.rng.pick(VALUES));
    }
    b = g.rng.chance(0.1) ? g.evil("{") : JSON.stringify(o);
  } else {
    for (const a of args) {
      query.push(`${enc(g, g.v(a))}=${enc(g, g.v(g.rng.pick(VALUES)))}`);
    }
  }
  if (r.columns.length > 0 && g.rng.chance(0.5)) {
    const t: TableModel = {
      schema: r.schema,
      name: r.name,
      columns: r.columns,
      embeds: r.name === "find" ? ["children"] : [],
      hints: [],
      conflict: [],
    };
    query.push(...tableQuery(g, t, false));
  } else if (g.rng.chance(0.2)) {
    query.push(`select=${enc(g, g.name(r.name))}`);
  }
  const h = headers(g, method, r.schema, tokens, b !== null);
  return { method, path, query, headers: h, body: b, hostile: g.hostile };
}

function oddRequest(g: Gen, tokens: Tokens): FuzzRequest {
  const r = g.rng.int(4);
  const method = g.rng.pick(["GET", "HEAD", "OPTIONS", "POST", "PURGE", "GET"]);
  const path = r === 0
    ? "/"
    : r === 1
    ? "/" + g.evil("") + "/" + encodeAll(g.evil(""))
    : r === 2
    ? "/rpc/" + encodeAll(g.evil("")) + "/x"
    : "/" + encodeAll(g.evil("parents"));
  const h = headers(g, method, "fuzz", tokens, false);
  return {
    method,
    path,
    query: g.rng.chance(0.5)
      ? [`${enc(g, g.evil(""))}=${enc(g, g.evil(""))}`]
      : [],
    headers: h,
    body: null,
    hostile: g.hostile,
  };
}

/**
 * Generates one request. At least one position is hostile: when none came
 * out so, a hostile query parameter is added.
 */
export function generate(rng: Rng, tokens: Tokens): FuzzRequest {
  // a few hostile positions go deep (past the parser, into the planner and
  // the database); many fail early
  const p = rng.pick([0, 0.03, 0.06, 0.12, 0.25]);
  const r = rng.int(20);
  const build = (g: Gen) =>
    r < 13
      ? relationRequest(g, tokens)
      : r < 19
      ? rpcRequest(g, tokens)
      : oddRequest(g, tokens);
  // a dry run counts the positions, so that one of them is surely hostile
  const dry = new Gen(rng.clone(), p, -1);
  build(dry);
  const g = new Gen(rng, p, dry.slots > 0 ? rng.int(dry.slots) : -1);
  const req = build(g);
  if (req.hostile > 0) return req;
  const key = rng.pick([
    "select",
    "order",
    "name",
    "id",
    "or",
    "limit",
    "columns",
  ]);
  return {
    ...req,
    query: [...req.query, `${encodeAll(key)}=${encodeAll(g.evil(""))}`],
    hostile: 1,
  };
}

/** The request as a `Request` (for the in-process handler by default). */
export function toRequest(
  r: FuzzRequest,
  origin = "http://localhost",
): Request {
  const qs = r.query.length > 0 ? "?" + r.query.join("&") : "";
  return new Request(`${origin}${r.path}${qs}`, {
    method: r.method,
    headers: r.headers.map(([k, v]) => [k, v] as [string, string]),
    ...(r.body === null ? {} : { body: r.body }),
  });
}

/** A one-line description (curl-like) to reproduce a failure by hand. */
export function describe(r: FuzzRequest): string {
  const qs = r.query.length > 0 ? "?" + r.query.join("&") : "";
  const h = r.headers.map(([k, v]) => ` -H ${JSON.stringify(`${k}: ${v}`)}`)
    .join("");
  const b = r.body === null ? "" : ` --data ${JSON.stringify(r.body)}`;
  return `curl -X ${r.method} ${
    JSON.stringify(`http://localhost${r.path}${qs}`)
  }${h}${b}`;
}
