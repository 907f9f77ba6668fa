/**
 * Owns PostgREST's query-string grammar: `select`, filters, `and`/`or`
 * trees, `order`, `limit`/`offset` (also on embeds), `columns` and
 * `on_conflict`, turned into a typed `QueryParams`.
 *
 * Pure. Failures are PGRST100 with the position and what was expected.
 *
 * @module
 */

import { parseError } from "../error.ts";
import {
  Cursor,
  FIELD_EXPECTING,
  isFieldChar,
  parseFieldName,
  parseQuoted,
  runParser,
} from "./cursor.ts";
import type {
  AggregateFn,
  EmbedPath,
  Field,
  Filter,
  FtsOperator,
  IsValue,
  JsonStep,
  LogicTree,
  Operation,
  OrderTerm,
  QuantOperator,
  QueryParams,
  RangeSpec,
  SelectItem,
  SimpleOperator,
} from "./types.ts";

// ---------------------------------------------------------------- fields

function parseJsonPath(c: Cursor): JsonStep[] {
  const steps: JsonStep[] = [];
  for (;;) {
    let arrow: "->" | "->>";
    if (c.startsWith("->>")) arrow = "->>";
    else if (c.startsWith("->")) arrow = "->";
    else return steps;
    c.pos += arrow.length;
    // an index: optional minus and digits, followed by another arrow, a cast or the end
    const m = /^-?\d+/.exec(c.rest());
    if (m) {
      const after = c.rest().slice(m[0].length);
      if (
        after === "" || after.startsWith("->") || after.startsWith("::") ||
        after.startsWith(".") || after.startsWith(",") || after.startsWith(")")
      ) {
        c.pos += Array.from(m[0]).length;
        steps.push({ arrow, key: Number(m[0]) });
        continue;
      }
    }
    if (c.peek() !== '"' && !isFieldChar(c.peek()) && c.peek() !== "-") {
      c.fail(
        '"-", digit or any non reserved character different from: .,>()',
      );
    }
    steps.push({ arrow, key: parseJsonKey(c) });
  }
}

function parseJsonKey(c: Cursor): string {
  const q = parseQuoted(c);
  if (q !== null) return q;
  let out = "";
  while (!c.done) {
    const ch = c.peek();
    if (".,>()".includes(ch) || ch === ":" && c.peek(1) === ":") break;
    if (ch === "-" && c.peek(1) === ">") break;
    out += ch;
    c.pos++;
  }
  if (out === "") {
    c.fail('"-", digit or any non reserved character different from: .,>()');
  }
  return out;
}

function parseField(c: Cursor): Field {
  const name = parseFieldName(c);
  return { name, jsonPath: parseJsonPath(c) };
}

// ---------------------------------------------------------------- select

function parseCast(c: Cursor): string | null {
  if (!c.eat("::")) return null;
  const start = c.pos;
  while (/^[\p{L}\p{N}_ ]$/u.test(c.peek())) c.pos++;
  if (c.pos === start) c.fail("identifier");
  return c.slice(start, c.pos).trim();
}

const AGGREGATES: readonly AggregateFn[] = [
  "count",
  "sum",
  "avg",
  "min",
  "max",
];

/**
 * How deep `select` embeds and `and`/`or` trees may nest in the grammar.
 * The parsers and the SQL renderer recurse once per level, so without a cap
 * a URL of a few thousand parentheses overflowed the JavaScript stack (a
 * 500). Far above `server-max-embed-depth` (16 by default), which is checked
 * after parsing with its own error.
 */
export const MAX_NESTING = 100;

const NESTING_EXPECTING = `at most ${MAX_NESTING} levels of nesting`;

function parseSelectItem(c: Cursor, depth: number): SelectItem {
  if (c.eat("*")) return { kind: "star" };
  const spread = c.eat("...");
  // alias
  const save = c.pos;
  let alias: string | null = null;
  try {
    const a = parseFieldName(c);
    if (c.peek() === ":" && c.peek(1) !== ":") {
      c.pos++;
      alias = a;
    } else {
      c.pos = save;
    }
  } catch {
    c.pos = save;
  }
  if (!spread && c.startsWith("count()")) {
    c.pos += 7;
    return { kind: "count", alias, cast: parseCast(c) };
  }
  const nameStart = c.pos;
  const name = parseFieldName(c);
  // embed?
  const afterName = c.pos;
  let hint: string | null = null;
  let joinType: "inner" | "left" | null = null;
  if (c.peek() === "!" || c.peek() === "(") {
    while (c.peek() === "!") {
      c.pos++;
      const h = parseFieldName(c);
      if ((h === "inner" || h === "left") && joinType === null) {
        joinType = h;
      } else if (hint === null) {
        hint = h;
      } else {
        c.fail('"("');
      }
    }
    if (c.peek() === "(") {
      if (depth >= MAX_NESTING) c.fail(NESTING_EXPECTING);
      c.pos++;
      const select = parseSelectList(c, ")", depth + 1);
      if (!c.eat(")")) c.fail('")"');
      return { kind: "embed", name, alias, hint, joinType, spread, select };
    }
    c.fail('"("');
  }
  if (spread) {
    c.pos = afterName;
    c.fail('"!" or "("');
  }
  c.pos = nameStart;
  const field = parseField(c);
  const cast = parseCast(c);
  let aggregate: AggregateFn | null = null;
  let aggregateCast: string | null = null;
  if (c.peek() === ".") {
    const m = /^\.(count|sum|avg|min|max)\(\)/.exec(c.rest());
    if (m) {
      c.pos += m[0].length;
      aggregate = AGGREGATES.find((a) => a === m[1]) ?? null;
      aggregateCast = parseCast(c);
    }
  }
  return { kind: "field", field, alias, cast, aggregate, aggregateCast };
}

function parseSelectList(
  c: Cursor,
  close: string,
  depth: number,
): SelectItem[] {
  const items: SelectItem[] = [];
  if (c.peek() === close) return items;
  for (;;) {
    while (c.peek() === " ") c.pos++;
    items.push(parseSelectItem(c, depth));
    while (c.peek() === " ") c.pos++;
    if (c.eat(",")) continue;
    if (c.done || c.peek() === close || close === "") return items;
    c.fail('",", "->", "::", "." or end of input');
  }
}

/** Parses the `select` parameter. */
export function parseSelect(text: string): SelectItem[] {
  return runParser("select parameter", text, (c) => {
    if (c.done) return [];
    // like PostgREST's parser, text after the last complete item is ignored
    return parseSelectList(c, "", 0);
  });
}

// ---------------------------------------------------------------- filters

const SIMPLE_OPS: readonly SimpleOperator[] = [
  "eq",
  "neq",
  "gte",
  "gt",
  "lte",
  "lt",
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
];
const QUANT_OPS: readonly QuantOperator[] = [
  "eq",
  "gte",
  "gt",
  "lte",
  "lt",
  "like",
  "ilike",
  "match",
  "imatch",
];
const FTS_OPS: readonly FtsOperator[] = ["fts", "plfts", "phfts", "wfts"];
const IS_VALUES: readonly IsValue[] = [
  "null",
  "not_null",
  "true",
  "false",
  "unknown",
];

/**
 * The words that start a filter's operation: every operator the filter
 * parser below accepts.
 */
const OPERATOR_WORDS: ReadonlySet<string> = new Set<string>([
  ...SIMPLE_OPS,
  ...QUANT_OPS,
  ...FTS_OPS,
  "in",
  "is",
  "isdistinct",
]);

/**
 * Whether a query-string value is an operation (`eq.1`, `not.in.(1,2)`,
 * `fts(english).cat`, `gt(any).{1,2}`): on a GET to a function such a
 * parameter filters the result instead of being an argument, as PostgREST's
 * `hasOperator` decides.
 */
export function isFilterValue(value: string): boolean {
  const m = /^(?:not\.)?([a-z]+)(?:\([^)]*\))?\./.exec(value);
  return m !== null && OPERATOR_WORDS.has(m[1] ?? "");
}

type ValueParser = (c: Cursor) => string;
type ListParser = (c: Cursor) => string[];

const OPERATOR_EXPECTING = "operator (eq, gt, ...)";

/** Whether `ch` is an ASCII letter or `_` (one UTF-16 unit, or ""). */
function isWordChar(ch: string): boolean {
  const k = ch.length === 1 ? ch.charCodeAt(0) : -1;
  return (k >= 97 && k <= 122) || (k >= 65 && k <= 90) || k === 95;
}

function readWord(c: Cursor): string {
  let end = c.pos;
  while (isWordChar(c.at(end))) end++;
  return c.slice(c.pos, end);
}

function parseOperation(
  c: Cursor,
  single: ValueParser,
  list: ListParser,
): Operation {
  const word = readWord(c);
  const start = c.pos;
  if (word === "in" && c.peek(2) === ".") {
    c.pos += 3;
    return { kind: "in", values: list(c) };
  }
  if (word === "is" && c.peek(2) === ".") {
    c.pos += 3;
    const v = single(c).toLowerCase();
    const is = IS_VALUES.find((x) => x === v);
    if (is === undefined) {
      c.pos = start + 3;
      c.fail("null or trilean value (unknown, true, false)");
    }
    return { kind: "is", value: is };
  }
  if (word === "isdistinct" && c.peek(10) === ".") {
    c.pos += 11;
    return { kind: "op", op: "isdistinct", value: single(c) };
  }
  const fts = FTS_OPS.find((f) => f === word);
  if (fts !== undefined) {
    c.pos += fts.length;
    let language: string | null = null;
    if (c.peek() === "(") {
      const close = c.rest().indexOf(")");
      if (close < 0) c.fail('")"');
      language = c.rest().slice(1, close);
      c.pos += Array.from(c.rest().slice(0, close + 1)).length;
    }
    if (!c.eat(".")) c.fail('"."');
    return { kind: "fts", op: fts, language, value: single(c) };
  }
  const quant = QUANT_OPS.find((q) => q === word);
  if (quant !== undefined && c.peek(quant.length) === "(") {
    c.pos += quant.length;
    let quantifier: "any" | "all";
    if (c.eat("(any)")) quantifier = "any";
    else if (c.eat("(all)")) quantifier = "all";
    else c.fail('"(any)" or "(all)"');
    if (!c.eat(".")) c.fail('"."');
    return { kind: "quant", op: quant, quantifier, value: single(c) };
  }
  const op = SIMPLE_OPS.find((o) => o === word);
  if (op !== undefined && c.peek(op.length) === ".") {
    c.pos += op.length + 1;
    return { kind: "op", op, value: single(c) };
  }
  c.fail(OPERATOR_EXPECTING);
}

function parseOpExpr(c: Cursor, single: ValueParser, list: ListParser): {
  negated: boolean;
  operation: Operation;
} {
  let negated = false;
  if (c.startsWith("not.")) {
    c.pos += 4;
    negated = true;
  } else if (!/^[a-z]/i.test(c.peek())) {
    c.fail(`"not" or ${OPERATOR_EXPECTING}`);
  }
  return { negated, operation: parseOperation(c, single, list) };
}

function anyValue(c: Cursor): string {
  const r = c.rest();
  c.pos = c.length;
  return r;
}

function tryQuoted(c: Cursor): string | null {
  try {
    return parseQuoted(c);
  } catch {
    return null;
  }
}

function skipBlanks(c: Cursor): void {
  while (c.peek() === " " || c.peek() === "\t") c.pos++;
}

function listElement(c: Cursor): string {
  const save = c.pos;
  const q = tryQuoted(c);
  if (q !== null && (c.peek() === "," || c.peek() === ")")) return q;
  c.pos = save;
  let out = "";
  while (!c.done && c.peek() !== "," && c.peek() !== ")") {
    out += c.peek();
    c.pos++;
  }
  return out;
}

function listValue(c: Cursor): string[] {
  // spaces around the "(" are skipped (PostgREST's `lexeme (char '(')`),
  // so `( ,3)` starts with an empty value
  skipBlanks(c);
  if (!c.eat("(")) c.fail('"("');
  skipBlanks(c);
  const out: string[] = [listElement(c)];
  while (c.eat(",")) out.push(listElement(c));
  if (!c.eat(")")) c.fail('")"');
  return out;
}

/** Parses a filter value such as `not.eq.5` for `field`. */
export function parseFilter(field: Field, text: string): Filter {
  return runParser("filter", text, (c) => {
    const { negated, operation } = parseOpExpr(c, anyValue, (cc) => {
      const v = listValue(cc);
      if (!cc.done) cc.fail("end of input");
      return v;
    });
    return { field, negated, operation };
  });
}

// ---------------------------------------------------------------- logic

function logicSingle(c: Cursor): string {
  const save = c.pos;
  const q = tryQuoted(c);
  if (q !== null && (c.done || c.peek() === "," || c.peek() === ")")) return q;
  c.pos = save;
  if (c.peek() === "{") {
    const end = c.rest().indexOf("}");
    if (end >= 0) {
      const s = c.rest().slice(0, end + 1);
      c.pos += Array.from(s).length;
      return s;
    }
  }
  let out = "";
  while (!c.done && c.peek() !== "," && c.peek() !== ")") {
    out += c.peek();
    c.pos++;
  }
  return out;
}

const LOGIC_EXPECTING =
  "field name (* or [a..z0..9_$]), negation operator (not) or logic operator (and, or)";

function skipSpaces(c: Cursor): void {
  while (c.peek() === " ") c.pos++;
}

function parseLogicTree(c: Cursor, depth: number): LogicTree {
  skipSpaces(c);
  // try a logic expression: [not.](and|or)(
  const m = /^(not\.)?(and|or)\(/.exec(c.rest());
  if (m) {
    if (depth >= MAX_NESTING) c.fail(NESTING_EXPECTING);
    c.pos += m[0].length;
    return parseLogicChildren(
      c,
      m[1] !== undefined,
      m[2] === "and" ? "and" : "or",
      depth + 1,
    );
  }
  if (c.peek() !== '"' && !isFieldChar(c.peek())) c.fail(LOGIC_EXPECTING);
  const field = parseField(c);
  if (!c.eat(".")) c.fail('"->" or "."');
  const { negated, operation } = parseOpExpr(c, logicSingle, listValue);
  return { kind: "filter", filter: { field, negated, operation } };
}

function parseLogicChildren(
  c: Cursor,
  negated: boolean,
  op: "and" | "or",
  depth: number,
): LogicTree {
  const children: LogicTree[] = [parseLogicTree(c, depth)];
  skipSpaces(c);
  while (c.eat(",")) {
    children.push(parseLogicTree(c, depth));
    skipSpaces(c);
  }
  if (!c.eat(")")) c.fail('"," or ")"');
  return { kind: "expr", negated, op, children };
}

/** Parses `or=(…)` / `and=(…)` values. */
export function parseLogic(
  negated: boolean,
  op: "and" | "or",
  text: string,
): LogicTree {
  // PostgREST parses the operator and the value together (`not.or(…)`),
  // so error columns count the operator too
  return runParser(
    "logic tree",
    text,
    (c) => {
      if (!c.eat("(")) c.fail('"("');
      // like PostgREST, text after the closing parenthesis is ignored
      return parseLogicChildren(c, negated, op, 1);
    },
    (negated ? "not." : "").length + op.length,
  );
}

// ---------------------------------------------------------------- order

function parseOrderModifiers(c: Cursor): {
  direction: "asc" | "desc" | null;
  nulls: "first" | "last" | null;
} {
  let direction: "asc" | "desc" | null = null;
  let nulls: "first" | "last" | null = null;
  if (c.peek() === ".") {
    const m = /^\.(asc|desc)(?=$|[.,])/.exec(c.rest());
    if (m) {
      c.pos += m[0].length;
      direction = m[1] === "asc" ? "asc" : "desc";
    }
  }
  if (c.peek() === ".") {
    const m = /^\.nulls(first|last)(?=$|,)/.exec(c.rest());
    if (m) {
      c.pos += m[0].length;
      nulls = m[1] === "first" ? "first" : "last";
    } else {
      c.fail('"asc", "desc", "nullsfirst" or "nullslast"');
    }
  }
  return { direction, nulls };
}

function parseOrderTerm(c: Cursor): OrderTerm {
  const start = c.pos;
  const name = parseFieldName(c);
  if (c.peek() === "(") {
    c.pos++;
    const field = parseField(c);
    if (!c.eat(")")) c.fail('")"');
    return {
      kind: "relation",
      relation: name,
      field,
      ...parseOrderModifiers(c),
    };
  }
  c.pos = start;
  const field = parseField(c);
  return { kind: "field", field, ...parseOrderModifiers(c) };
}

/** Parses the `order` parameter. */
export function parseOrder(text: string): OrderTerm[] {
  return runParser("order", text, (c) => {
    const terms = [parseOrderTerm(c)];
    while (c.eat(",")) terms.push(parseOrderTerm(c));
    if (!c.done) c.fail('",", "->", "." or end of input');
    return terms;
  });
}

// ---------------------------------------------------------------- columns

/** Parses `columns` and `on_conflict` lists. */
export function parseColumnList(what: string, text: string): string[] {
  return runParser(what, text, (c) => {
    const out = [parseFieldName(c)];
    while (c.eat(",")) out.push(parseFieldName(c));
    if (!c.done) c.fail('"," or end of input');
    return out;
  });
}

// ---------------------------------------------------------------- keys

/** Parses one `key=value` filter parameter (used for RPC results). */
export function parseFilterParam(
  key: string,
  value: string,
): { path: EmbedPath; filter: Filter } {
  const { path, field } = parseKeyPath(key);
  return { path, filter: parseFilter(field, value) };
}

function parseKeyPath(key: string): { path: string[]; field: Field } {
  return runParser("filter", key, (c) => {
    const names = [parseFieldName(c)];
    while (c.peek() === "." && !c.startsWith("..")) {
      c.pos++;
      names.push(parseFieldName(c));
    }
    const jsonPath = parseJsonPath(c);
    if (!c.done) c.fail('"->", "." or end of input');
    const last = names.pop() ?? "";
    return { path: names, field: { name: last, jsonPath } };
  });
}

function parseInteger(what: string, text: string): number {
  if (!/^-?\d+$/.test(text)) {
    throw parseError(
      `"failed to parse ${what} parameter (${text})" (line 1, column 1)`,
      `unexpected ${
        text === "" ? "end of input" : JSON.stringify(text[0])
      } expecting digit`,
    );
  }
  return Number(text);
}

/**
 * PostgreSQL text cannot hold NUL, so no name or value with one can mean
 * anything: fail before it is cut short (names) or refused by the database.
 *
 * @throws {PgrstError} PGRST100
 */
function rejectNul(key: string, value: string): void {
  if (!key.includes("\u0000") && !value.includes("\u0000")) return;
  const parts: [string, string][] = [
    ["parameter name", key],
    [`${key} parameter`, value],
  ];
  for (const [what, text] of parts) {
    if (!text.includes("\u0000")) continue;
    const at = Array.from(text).indexOf("\u0000");
    if (at >= 0) {
      throw parseError(
        `"failed to parse ${what} (${
          text.replaceAll("\u0000", "\\0")
        })" (line 1, column ${at + 1})`,
        'unexpected "\\u0000" expecting any character but NUL',
      );
    }
  }
}

const RESERVED = new Set(["select", "columns", "on_conflict"]);

/** A query string that decodes to itself: no escape, no `+`, ASCII only. */
const PLAIN_QUERY = /^[^%+\u0080-\uffff]*$/;

/**
 * The parameters of a query string (without its `?`), as
 * `new URLSearchParams(search)` lists them. A plain query string (nearly
 * every one) is split in place, without the URL parser.
 */
export function searchParams(search: string): Iterable<[string, string]> {
  if (!PLAIN_QUERY.test(search)) return new URLSearchParams(search);
  // as URLSearchParams: one leading "?" is dropped, empty parts skipped,
  // a part without "=" is a name with an empty value
  const s = search.startsWith("?") ? search.slice(1) : search;
  const out: [string, string][] = [];
  if (s === "") return out;
  let at = 0;
  while (at <= s.length) {
    let end = s.indexOf("&", at);
    if (end < 0) end = s.length;
    if (end > at) {
      const eq = s.indexOf("=", at);
      out.push(
        eq < 0 || eq > end
          ? [s.slice(at, end), ""]
          : [s.slice(at, eq), s.slice(eq + 1, end)],
      );
    }
    at = end + 1;
  }
  return out;
}

/** The top level's path (shared). */
const NO_PATH: readonly string[] = Object.freeze([]);

/** The default select, `*` (shared: plans do not change it). */
const STAR: readonly SelectItem[] = Object.freeze([{ kind: "star" }]);

/**
 * Parses the whole query string.
 *
 * @param isRpc whether unreserved parameters are RPC arguments (GET on a
 *   function) rather than filters; they are then also kept as filters when
 *   they parse as such.
 * @throws {PgrstError} PGRST100
 */
export function parseQueryParams(
  search: Iterable<[string, string]>,
  opts: { isRpc: boolean; rpcParamNames?: ReadonlySet<string> },
): QueryParams {
  let select: readonly SelectItem[] = STAR;
  const filters: { path: EmbedPath; filter: Filter }[] = [];
  const logic: { path: EmbedPath; tree: LogicTree }[] = [];
  const order: { path: EmbedPath; terms: OrderTerm[] }[] = [];
  // made when a limit or offset is given (rarely)
  let limits: Map<string, number> | null = null;
  let offsets: Map<string, number> | null = null;
  let columns: string[] | null = null;
  let onConflict: string[] | null = null;
  const rpcArgs: [string, string][] = [];

  // by index when it is an array (it nearly always is): no iterator, and
  // no destructuring through the iterator protocol
  const list: readonly (readonly [string, string])[] = Array.isArray(search)
    ? search
    : [...search];
  for (let i = 0; i < list.length; i++) {
    const kv = list[i] as readonly [string, string];
    const key = kv[0];
    const value = kv[1];
    rejectNul(key, value);
    if (key === "select") {
      // an empty select means every column, as PostgREST does
      select = value.trim() === "" ? STAR : parseSelect(value);
      continue;
    }
    if (key === "columns") {
      columns = parseColumnList("columns parameter", value);
      continue;
    }
    if (key === "on_conflict") {
      onConflict = parseColumnList("on_conflict parameter", value);
      continue;
    }
    // as key.split(".") with the last part apart, without a split when
    // there is no dot (nearly always)
    const dot = key.lastIndexOf(".");
    const last = dot < 0 ? key : key.slice(dot + 1);
    const pathKey: readonly string[] = dot < 0
      ? NO_PATH
      : key.slice(0, dot).split(".");
    if (last === "order") {
      order.push({ path: pathKey, terms: parseOrder(value) });
      continue;
    }
    if (last === "limit") {
      limits ??= new Map();
      limits.set(pathKey.join("\u0000"), parseInteger("limit", value));
      continue;
    }
    if (last === "offset") {
      offsets ??= new Map();
      offsets.set(pathKey.join("\u0000"), parseInteger("offset", value));
      continue;
    }
    if (last === "or" || last === "and") {
      const negated = pathKey[pathKey.length - 1] === "not";
      const path = negated ? pathKey.slice(0, -1) : pathKey;
      logic.push({ path, tree: parseLogic(negated, last, value) });
      continue;
    }
    if (RESERVED.has(key)) continue;
    if (opts.isRpc && (opts.rpcParamNames?.has(key) ?? true)) {
      rpcArgs.push([key, value]);
      continue;
    }
    const { path, field } = parseKeyPath(key);
    filters.push({ path, filter: parseFilter(field, value) });
  }

  const ranges = new Map<string, RangeSpec>();
  if (limits !== null || offsets !== null) {
    const keys = new Set([
      ...(limits?.keys() ?? []),
      ...(offsets?.keys() ?? []),
    ]);
    for (const k of keys) {
      ranges.set(k, {
        offset: offsets?.get(k) ?? 0,
        limit: limits?.get(k) ?? null,
      });
    }
  }
  return {
    select,
    filters,
    logic,
    order,
    ranges,
    columns,
    onConflict,
    rpcArgs,
  };
}

export { FIELD_EXPECTING };
