/**
 * Owns rendering a read plan into its one main statement: the source CTE
 * (select list, filters, order, range), the optional exact count, and the
 * body built by PostgreSQL (JSON array, single object or CSV), with the
 * `response.headers` / `response.status` settings read back.
 *
 * Pure.
 *
 * @module
 */

import { Memo2 } from "../memo.ts";
import type {
  AggregateFn,
  Field,
  Filter,
  LogicTree,
  OrderTerm,
} from "../api_request/types.ts";
import type {
  CallSource,
  EmbedNode,
  PlannedItem,
  ReadNode,
  ReadPlan,
} from "../plan/plan.ts";
import { isToOne } from "../plan/relationships.ts";
import type {
  QualifiedName,
  Representation,
  Routine,
  Table,
} from "../schema_cache/types.ts";
import { castSql } from "./casts.ts";
import {
  arrayLiteral,
  EMPTY,
  ident,
  join,
  keyword,
  param,
  qi,
  type Sql,
  sql,
} from "./sql.ts";

const SIMPLE_SQL = {
  eq: "=",
  neq: "<>",
  gt: ">",
  gte: ">=",
  lt: "<",
  lte: "<=",
  like: "LIKE",
  ilike: "ILIKE",
  match: "~",
  imatch: "~*",
  cs: "@>",
  cd: "<@",
  ov: "&&",
  sl: "<<",
  sr: ">>",
  nxr: "&<",
  nxl: "&>",
  adj: "-|-",
  isdistinct: "IS DISTINCT FROM",
} as const;

const FTS_SQL = {
  fts: "to_tsquery",
  plfts: "plainto_tsquery",
  phfts: "phraseto_tsquery",
  wfts: "websearch_to_tsquery",
} as const;

const IS_SQL = {
  null: "IS NULL",
  not_null: "IS NOT NULL",
  true: "IS TRUE",
  false: "IS FALSE",
  unknown: "IS UNKNOWN",
} as const;

/**
 * Column types, to know when a JSON path needs `to_jsonb`, and the data
 * representations (domain cast functions) of columns that have them.
 */
export type ColumnTypes = ReadonlyMap<
  string,
  { readonly nominalType: string; readonly repr?: Representation }
>;

/** The relation columns are read from: its SQL reference and column types. */
export interface Rel {
  readonly ref: Sql;
  readonly types: ColumnTypes;
  /** The whole-row reference (a function argument for computed fields). */
  readonly row?: Sql;
  /** Computed fields: functions of the row, by name. */
  readonly computed?: ReadonlyMap<string, Routine>;
  /** Embeds, for `rel=is.null` inside and/or trees. */
  readonly embeds?: readonly EmbedNode[];
  /**
   * How `rel=is.null` is rendered when not from the embed's lateral join:
   * count queries have no joins and ask `[NOT] EXISTS` instead.
   */
  readonly embedNull?: (e: EmbedNode, isNull: boolean) => Sql;
  /** The columns a select star reads, in order (the table's columns). */
  readonly starColumns?: readonly string[];
}

/** The Rel of a relation read as `ref`, with its computed fields. */
export function relOf(ref: Sql, row: Sql, node: ReadNode): Rel {
  const computed = node.computedFields;
  const embeds = node.embeds;
  const starColumns = starColumnsOf(node.table);
  if (computed.size === 0) {
    return { ref, row, types: node.table.columnsByName, embeds, starColumns };
  }
  const types = typesOf(node.table, computed);
  return { ref, row, types, computed, embeds, starColumns };
}

/** Column names by table (tables are immutable values of a schema cache). */
const starColumnsMemo = new WeakMap<Table, readonly string[]>();

/** The names of a table's columns, in order (one array per table). */
function starColumnsOf(table: Table): readonly string[] {
  let out = starColumnsMemo.get(table);
  if (out === undefined) {
    out = Object.freeze(table.columns.map((c) => c.name));
    starColumnsMemo.set(table, out);
  }
  return out;
}

/** Column types with computed fields, by table and computed fields. */
const typesMemo = new Memo2<
  Table,
  ReadonlyMap<string, Routine>,
  ColumnTypes
>((table, computed) => {
  const types = new Map<
    string,
    { readonly nominalType: string; readonly repr?: Representation }
  >(table.columnsByName);
  for (const [name, r] of computed) {
    if (!types.has(name)) types.set(name, { nominalType: r.returnTypeName });
  }
  return types;
}, () => new WeakMap());

/** A table's column types and its computed fields' result types. */
function typesOf(
  table: Table,
  computed: ReadonlyMap<string, Routine>,
): ColumnTypes {
  return typesMemo.get(table, computed);
}

/** The representation functions of a star's columns, or null for none. */
const starFormatsMemo = new Memo2<
  ColumnTypes,
  readonly string[],
  readonly (QualifiedName | null)[] | null
>((types, star) => {
  const formats = star.map((c) => types.get(c)?.repr?.toJson ?? null);
  return formats.every((f) => f === null) ? null : formats;
}, () => new WeakMap());

/**
 * The output-format functions (data representations) of the columns a
 * star reads, by position; null when no column has one (nearly always).
 */
function starFormats(
  types: ColumnTypes,
  star: readonly string[],
): readonly (QualifiedName | null)[] | null {
  return starFormatsMemo.get(types, star);
}

/**
 * The data representation function of a plain column (no JSON path, not a
 * computed field) for one direction, or null: `toJson` formats output,
 * `fromText` parses query-string values.
 */
export function reprFn(
  r: Rel,
  f: Field,
  direction: "toJson" | "fromText",
): QualifiedName | null {
  if (f.jsonPath.length > 0 || r.computed?.has(f.name) === true) return null;
  return r.types.get(f.name)?.repr?.[direction] ?? null;
}

/** `"schema"."fn"(arg)`: a call of a data representation function. */
export function reprCall(fn: QualifiedName, arg: Sql): Sql {
  return sql`${qi(fn.schema, fn.name)}(${arg})`;
}

/**
 * A query-string value for a filter on `f`: through the column's text
 * parser when its domain has one (`text → domain` cast), else as is.
 */
function filterValue(rel: Rel, f: Field, value: string): Sql {
  const fn = reprFn(rel, f, "fromText");
  return fn === null ? param(value) : reprCall(fn, sql`${param(value)}::text`);
}

/**
 * A column reference with its JSON path applied. Composite and array
 * columns are converted with `to_jsonb` first, as PostgREST does.
 */
export function fieldSql(r: Rel, f: Field): Sql {
  const rel = r.ref;
  const fn = r.computed?.get(f.name);
  // a name is always a column: a quoted "*" is the column named `*`, as
  // `rel.*->'k'` would not be SQL (select stars are their own item)
  let out = fn !== undefined && r.row !== undefined
    ? sql`${qi(fn.schema, fn.name)}(${r.row})`
    : sql`${rel}.${ident(f.name)}`;
  // a column of unknown type (of a function's TABLE or OUT columns) is
  // converted too: `->` exists only for json and jsonb
  const type = r.types.get(f.name)?.nominalType;
  if (f.jsonPath.length > 0 && type !== "json" && type !== "jsonb") {
    out = sql`to_jsonb(${out})`;
  }
  for (const step of f.jsonPath) {
    const arrow = keyword(step.arrow);
    out = typeof step.key === "number"
      ? sql`${out}${arrow}${param(step.key)}::int`
      : sql`${out}${arrow}${param(step.key)}::text`;
  }
  return out;
}

/**
 * The output name of a field without alias, as PostgREST names it: the last
 * JSON key, else the column. An empty key (`->""`) names nothing, as `AS ""`
 * is not SQL.
 */
export function fieldName(f: Field): string {
  for (let i = f.jsonPath.length - 1; i >= 0; i--) {
    const k = f.jsonPath[i]?.key;
    if (typeof k === "string" && k !== "") return k;
  }
  return f.name;
}

function likePattern(v: string): string {
  return v.replaceAll("*", "%");
}

/** Renders one filter. */
export function filterSql(rel: Rel, f: Filter): Sql {
  const lhs = fieldSql(rel, f.field);
  const op = f.operation;
  let cond: Sql;
  switch (op.kind) {
    case "op": {
      // like/ilike patterns and IS DISTINCT FROM take the value as it is,
      // as PostgREST does (no text parser of a data representation)
      const rhs = op.op === "like" || op.op === "ilike"
        ? param(likePattern(op.value))
        : op.op === "isdistinct"
        ? param(op.value)
        : filterValue(rel, f.field, op.value);
      cond = sql`${lhs} ${keyword(SIMPLE_SQL[op.op])} ${rhs}`;
      break;
    }
    case "quant": {
      const v = op.op === "like" || op.op === "ilike"
        ? likePattern(op.value)
        : op.value;
      const q = keyword(op.quantifier === "any" ? "ANY" : "ALL");
      cond = sql`${lhs} ${keyword(SIMPLE_SQL[op.op])} ${q}(${param(v)})`;
      break;
    }
    case "in": {
      const values = op.values.length === 1 && op.values[0] === ""
        ? []
        : op.values;
      const parser = reprFn(rel, f.field, "fromText");
      // with a text parser, each value goes through it (unnest as a map)
      cond = parser === null || values.length === 0
        ? sql`${lhs} = ANY(${param(arrayLiteral(values))})`
        : sql`${lhs} = ANY(SELECT ${
          reprCall(
            parser,
            sql`pg_catalog.unnest(${param(arrayLiteral(values))}::text[])`,
          )
        })`;
      break;
    }
    case "is":
      cond = sql`${lhs} ${keyword(IS_SQL[op.value])}`;
      break;
    case "fts": {
      const fn = keyword(FTS_SQL[op.op]);
      const lang = op.language === null
        ? null
        : sql`${param(op.language)}::regconfig`;
      // text and json columns are converted with to_tsvector, in the
      // query's language when one is given
      const type = f.field.jsonPath.length === 0
        ? rel.types.get(f.field.name)?.nominalType
        : "text";
      const vec = type === "tsvector"
        ? lhs
        : lang === null
        ? sql`to_tsvector(${lhs})`
        : sql`to_tsvector(${lang}, ${lhs})`;
      cond = lang === null
        ? sql`${vec} @@ ${fn}(${param(op.value)})`
        : sql`${vec} @@ ${fn}(${lang}, ${param(op.value)})`;
      break;
    }
    default: {
      const never: never = op;
      throw new Error(`unexpected operation ${String(never)}`);
    }
  }
  return f.negated ? sql`NOT (${cond})` : cond;
}

/** `rel=is.null` on an embed: whether the embed found rows. */
function embedNullSql(e: EmbedNode, isNull: boolean): Sql {
  const j = ident(e.joinAlias);
  const target = isToOne(e.rel)
    ? sql`row_to_json(${j}.*)`
    : sql`${j}.${ident("pgrst_agg")}`;
  return sql`${target} ${keyword(isNull ? "IS NULL" : "IS NOT NULL")}`;
}

/** Renders a logic tree. */
export function logicSql(rel: Rel, t: LogicTree): Sql {
  if (t.kind === "filter") {
    const f = t.filter;
    const op = f.operation;
    const e = rel.embeds?.find((x) => x.key === f.field.name);
    if (
      e !== undefined && !rel.types.has(f.field.name) &&
      f.field.jsonPath.length === 0 && op.kind === "is" &&
      (op.value === "null" || op.value === "not_null")
    ) {
      return (rel.embedNull ?? embedNullSql)(
        e,
        (op.value === "null") !== f.negated,
      );
    }
    return filterSql(rel, f);
  }
  const parts = t.children.map((c) => logicSql(rel, c));
  const body = join(parts, keyword(t.op === "and" ? " AND " : " OR "));
  return t.negated ? sql`NOT (${body})` : sql`(${body})`;
}

const AGG_SQL = {
  count: "pg_catalog.count",
  sum: "pg_catalog.sum",
  avg: "pg_catalog.avg",
  min: "pg_catalog.min",
  max: "pg_catalog.max",
} as const;

function withCast(expr: Sql, cast: string | null): Sql {
  return cast === null ? expr : sql`CAST(${expr} AS ${castSql(cast)})`;
}

/** Renders ORDER BY terms (without the keyword). */
export function orderSql(
  rel: Rel,
  terms: readonly OrderTerm[],
  embeds: readonly EmbedNode[] = [],
): Sql {
  return join(terms.map((t) => {
    let s: Sql;
    if (t.kind === "relation") {
      const e = embeds.find((x) => x.key === t.relation);
      const ref = ident(e === undefined ? t.relation : e.joinAlias);
      s = fieldSql({ ref, types: new Map() }, t.field);
    } else {
      s = fieldSql(rel, t.field);
    }
    if (t.direction !== null) {
      s = sql`${s} ${keyword(t.direction === "asc" ? "ASC" : "DESC")}`;
    }
    if (t.nulls !== null) {
      s = sql`${s} ${
        keyword(t.nulls === "first" ? "NULLS FIRST" : "NULLS LAST")
      }`;
    }
    return s;
  }));
}

/** Renders the select list and the GROUP BY list it implies. */
export function selectSql(
  rel: Rel,
  items: readonly PlannedItem[],
  opts: {
    raw?: boolean;
    spread?: {
      readonly names: readonly string[];
      readonly star: readonly string[];
    };
  } = NO_OPTS,
): { list: Sql; groupBy: readonly Sql[] } {
  // raw: a to-one spread child, whose aggregates its parent computes
  const raw = opts.raw ?? false;
  // spread: a spread child, whose parent reads its columns by name; a name
  // that occurs twice gets a positional name instead (`spreadNames`)
  const inner = opts.spread === undefined
    ? null
    : spreadNames(opts.spread.names);
  const cols: Sql[] = [];
  const groupBy: Sql[] = [];
  let aggregated = false;
  // the index of the next output column (a star gives several)
  let at = 0;
  const position = (): Sql => keyword(String(cols.length));
  /**
   * Adds the output column `name`; `bare`: `expr` is already named so (a
   * column of that name), and needs no `AS` unless a spread renames it.
   */
  const out = (expr: Sql, name: string, bare = false): void => {
    const final = inner?.[at] ?? name;
    at++;
    cols.push(bare && final === name ? expr : sql`${expr} AS ${ident(final)}`);
  };
  for (const it of items) {
    switch (it.kind) {
      case "star": {
        const star = opts.spread?.star ?? rel.starColumns ?? NO_COLUMNS;
        const clash = inner !== null &&
          star.some((c, k) => inner[at + k] !== c);
        // columns with a data representation are formatted one by one
        const formats = starFormats(rel.types, star);
        if (!clash && formats === null) {
          const all = sql`${rel.ref}.*`;
          cols.push(all);
          groupBy.push(all);
          at += star.length;
          break;
        }
        star.forEach((c, k) => {
          const col = sql`${rel.ref}.${ident(c)}`;
          const fn = formats?.[k] ?? null;
          if (fn === null) {
            out(col, c, true);
            groupBy.push(position());
          } else {
            out(reprCall(fn, col), c);
            // json has no equality: group by the column itself
            groupBy.push(col);
          }
        });
        break;
      }
      case "count":
        if (raw) {
          out(sql`1`, it.alias ?? "count");
          break;
        }
        aggregated = true;
        out(withCast(sql`pg_catalog.count(*)`, it.cast), it.alias ?? "count");
        break;
      case "field": {
        const value = fieldSql(rel, it.field);
        // a data representation formats the value (not an aggregate's
        // argument); an explicit cast applies on top of it
        const fmt = it.aggregate === null
          ? reprFn(rel, it.field, "toJson")
          : null;
        const base = withCast(
          fmt === null ? value : reprCall(fmt, value),
          it.cast,
        );
        if (it.aggregate !== null && raw) {
          out(base, it.alias ?? it.aggregate);
        } else if (it.aggregate !== null) {
          aggregated = true;
          const agg = withCast(
            sql`${keyword(AGG_SQL[it.aggregate])}(${base})`,
            it.aggregateCast,
          );
          out(agg, it.alias ?? it.aggregate);
        } else {
          const name = it.alias ?? fieldName(it.field);
          const plain = it.alias === null && it.cast === null &&
            it.field.jsonPath.length === 0 && fmt === null;
          out(base, name, plain);
          // json has no equality: a formatted value groups by its column
          groupBy.push(fmt === null ? position() : value);
        }
        break;
      }
      case "embedded": {
        const e = it.embed;
        if (e.node.select.length === 0) break; // `rel()`: filtering only
        const j = ident(e.joinAlias);
        if (e.spread && isToOne(e.rel) && !raw) {
          // the child's columns are lifted into this row; its aggregates
          // are computed here, grouped by the other columns
          const cs = spreadColumns(e.node);
          const from = spreadNames(cs.map((c) => c.name));
          cs.forEach((c, k) => {
            const v = sql`${j}.${ident(from[k] ?? c.name)}`;
            if (c.aggregate === null) {
              out(v, c.name, from[k] === c.name);
              groupBy.push(position());
            } else {
              aggregated = true;
              out(
                withCast(sql`${keyword(AGG_SQL[c.aggregate])}(${v})`, c.cast),
                c.name,
              );
            }
          });
        } else if (e.spread) {
          // lifted as they are (as arrays for a to-many spread)
          const names = outputNames(e.node);
          const from = spreadNames(names);
          names.forEach((name, k) => {
            out(sql`${j}.${ident(from[k] ?? name)}`, name, from[k] === name);
            groupBy.push(position());
          });
        } else if (isToOne(e.rel)) {
          // jsonb, as PostgREST: it has equality (a parent spread may group
          // by it) and its text form (`{"id": 1}`) is PostgREST's
          out(sql`row_to_json(${j}.*)::jsonb`, e.key);
          groupBy.push(j);
        } else {
          out(sql`COALESCE(${j}.${ident("pgrst_agg")}, '[]')`, e.key);
          groupBy.push(position());
        }
        break;
      }
      default: {
        const never: never = it;
        throw new Error(`unexpected select item ${String(never)}`);
      }
    }
  }
  return {
    list: cols.length === 0 ? EMPTY : join(cols),
    groupBy: aggregated ? groupBy : NO_SQL,
  };
}

function joinCondition(e: EmbedNode, parent: Rel, child: Rel): Sql {
  const r = e.rel;
  if (r.kind === "m2m" || r.kind === "computed") {
    return EMPTY;
  }
  return join(
    r.columns.map(([s, t]) =>
      sql`${child.ref}.${ident(t)} = ${parent.ref}.${ident(s)}`
    ),
    keyword(" AND "),
  );
}

/** The FROM clause with the lateral joins of the node's embeds. */
function fromSql(node: ReadNode, rel: Rel, table: Sql): Sql {
  let from = table;
  for (const e of node.embeds) {
    const sub = embedSql(e, rel);
    const j = ident(e.joinAlias);
    if (isToOne(e.rel)) {
      from = e.joinType === "inner"
        ? sql`${from} INNER JOIN LATERAL (${sub}) AS ${j} ON TRUE`
        : sql`${from} LEFT JOIN LATERAL (${sub}) AS ${j} ON TRUE`;
    } else {
      from = e.joinType === "inner"
        ? sql`${from} INNER JOIN LATERAL (${sub}) AS ${j} ON ${j}.${
          ident("pgrst_agg")
        } IS NOT NULL`
        : sql`${from} LEFT JOIN LATERAL (${sub}) AS ${j} ON TRUE`;
    }
  }
  return from;
}

function conditions(node: ReadNode, rel: Rel, extra: readonly Sql[]): Sql[] {
  const conds: Sql[] = [];
  for (let i = 0; i < extra.length; i++) conds.push(extra[i] as Sql);
  const where = node.where;
  for (let i = 0; i < where.length; i++) {
    conds.push(logicSql(rel, where[i] as LogicTree));
  }
  for (const f of node.embedFilters) {
    const e = node.embeds.find((x) => x.key === f.key);
    if (e === undefined) continue;
    conds.push(embedNullSql(e, f.isNull));
  }
  return conds;
}

const AND: Sql = keyword(" AND ");
const NO_SQL: readonly Sql[] = Object.freeze([]);
const NO_OPTS: { raw?: boolean } = Object.freeze({});
const NO_COLUMNS: readonly string[] = Object.freeze([]);

function whereSql(conds: readonly Sql[]): Sql {
  if (conds.length === 0) return EMPTY;
  return sql` WHERE ${join(conds, AND)}`;
}

function tailSql(node: ReadNode, rel: Rel, groupBy: readonly Sql[]): Sql {
  let q = EMPTY;
  if (groupBy.length > 0) q = sql`${q} GROUP BY ${join(groupBy)}`;
  if (node.order.length > 0) {
    q = sql`${q} ORDER BY ${orderSql(rel, node.order, node.embeds)}`;
  }
  if (node.range.limit !== null) {
    q = sql`${q} LIMIT ${param(node.range.limit)}::bigint`;
  }
  if (node.range.offset !== 0) {
    q = sql`${q} OFFSET ${param(node.range.offset)}::bigint`;
  }
  return q;
}

/**
 * Where an embed's rows come from: its table (or its function of the
 * parent's row), a many-to-many's junction, and the conditions that
 * correlate them to the parent.
 */
function embedSource(
  e: EmbedNode,
  parent: Rel,
  child: Rel,
): { table: Sql; junction: Sql | null; conditions: Sql[] } {
  const node = e.node;
  const alias = ident(e.tableAlias);
  const r = e.rel;
  if (r.kind === "computed") {
    // no join condition: the function already follows the parent row
    return {
      table: sql`${qi(r.routine.schema, r.routine.name)}(${
        parent.row ?? parent.ref
      }) AS ${alias}`,
      junction: null,
      conditions: [],
    };
  }
  const table = sql`${qi(node.table.schema, node.table.name)} AS ${alias}`;
  if (r.kind !== "m2m") {
    return {
      table,
      junction: null,
      conditions: [joinCondition(e, parent, child)],
    };
  }
  const jn = ident(`${r.junction.name}_${e.tableAlias}`);
  const conditions: Sql[] = [];
  for (const [t, jc] of r.targetColumns) {
    conditions.push(sql`${alias}.${ident(t)} = ${jn}.${ident(jc)}`);
  }
  for (const [s, jc] of r.sourceColumns) {
    conditions.push(sql`${jn}.${ident(jc)} = ${parent.ref}.${ident(s)}`);
  }
  return {
    table,
    junction: sql`${qi(r.junction.schema, r.junction.name)} AS ${jn}`,
    conditions,
  };
}

/**
 * The conditions of a count query, as PostgREST's `readPlanToCountQuery`:
 * no joins, so `!inner` embeds and `rel=[not.]is.null` filters are
 * `[NOT] EXISTS` subqueries of the embed's own count query.
 */
function countConditions(
  node: ReadNode,
  rel: Rel,
  extra: readonly Sql[],
): Sql[] {
  const exists = (e: EmbedNode, isNull: boolean): Sql => {
    const alias = ident(e.tableAlias);
    const child = relOf(alias, alias, e.node);
    const src = embedSource(e, rel, child);
    const from = src.junction === null
      ? src.table
      : sql`${src.table}, ${src.junction}`;
    const q = sql`SELECT 1 FROM ${from}${
      whereSql(countConditions(e.node, child, src.conditions))
    }`;
    return isNull ? sql`NOT EXISTS (${q})` : sql`EXISTS (${q})`;
  };
  const counting: Rel = { ...rel, embedNull: exists };
  const conds: Sql[] = [
    ...extra,
    ...node.where.map((w) => logicSql(counting, w)),
  ];
  for (const f of node.embedFilters) {
    const e = node.embeds.find((x) => x.key === f.key);
    if (e !== undefined) conds.push(exists(e, f.isNull));
  }
  for (const e of node.embeds) {
    if (e.joinType === "inner") conds.push(exists(e, false));
  }
  return conds;
}

/** The lateral subquery of an embed, correlated to its parent. */
function embedSql(e: EmbedNode, parent: Rel): Sql {
  const node = e.node;
  const alias = ident(e.tableAlias);
  const child = relOf(alias, alias, node);
  const src = embedSource(e, parent, child);
  const extra = src.conditions;
  let from = fromSql(node, child, src.table);
  if (src.junction !== null) from = sql`${from}, ${src.junction}`;
  const { list, groupBy } = selectSql(child, node.select, {
    raw: e.spread && isToOne(e.rel),
    ...(e.spread
      ? {
        spread: {
          names: outputNames(node),
          star: starColumnsOf(node.table),
        },
      }
      : {}),
  });
  const inner = sql`SELECT ${list} FROM ${from}${
    whereSql(conditions(node, child, extra))
  }${tailSql(node, child, groupBy)}`;
  if (isToOne(e.rel)) return inner;
  const agg = ident("pgrst_agg");
  const rows = ident(`${e.tableAlias}_rows`);
  if (e.spread) {
    // a to-many spread gives one array per child column
    const arrays = spreadNames(outputNames(node)).map((n) =>
      sql`COALESCE(json_agg(${rows}.${ident(n)}), '[]') AS ${ident(n)}`
    );
    return sql`SELECT ${
      join([...arrays, sql`json_agg(1) AS ${agg}`])
    } FROM (${inner}) AS ${rows}`;
  }
  return sql`SELECT json_agg(${rows})::jsonb AS ${agg} FROM (${inner}) AS ${rows}`;
}

/**
 * The names a spread child gives its output columns, which its parent reads
 * them by: the output name, or `pgrst_spread_<index>` for a name that occurs
 * more than once (`...rel(*,name)`), which could not be told apart.
 */
export function spreadNames(names: readonly string[]): string[] {
  const seen = new Map<string, number>();
  for (const n of names) seen.set(n, (seen.get(n) ?? 0) + 1);
  return names.map((n, k) => (seen.get(n) ?? 0) > 1 ? `pgrst_spread_${k}` : n);
}

/** A column a to-one spread lifts, with the aggregate its parent applies. */
interface SpreadColumn {
  readonly name: string;
  readonly aggregate: AggregateFn | null;
  readonly cast: string | null;
}

/** The columns of a to-one spread child, with nested to-one spreads. */
function spreadColumns(node: ReadNode): SpreadColumn[] {
  const out: SpreadColumn[] = [];
  for (const it of node.select) {
    switch (it.kind) {
      case "star":
        for (const c of node.table.columns) {
          out.push({ name: c.name, aggregate: null, cast: null });
        }
        break;
      case "field":
        out.push({
          name: it.alias ?? (it.aggregate ?? fieldName(it.field)),
          aggregate: it.aggregate,
          cast: it.aggregateCast,
        });
        break;
      case "count":
        out.push({
          name: it.alias ?? "count",
          aggregate: "count",
          cast: it.cast,
        });
        break;
      case "embedded":
        if (it.embed.node.select.length === 0) break;
        if (it.embed.spread && isToOne(it.embed.rel)) {
          out.push(...spreadColumns(it.embed.node));
        } else if (it.embed.spread) {
          for (const n of outputNames(it.embed.node)) {
            out.push({ name: n, aggregate: null, cast: null });
          }
        } else {
          out.push({ name: it.embed.key, aggregate: null, cast: null });
        }
        break;
    }
  }
  return out;
}

/** The output column names of a read node's select list. */
export function outputNames(node: ReadNode): string[] {
  const out: string[] = [];
  for (const it of node.select) {
    switch (it.kind) {
      case "star":
        for (const c of node.table.columns) out.push(c.name);
        break;
      case "field":
        out.push(it.alias ?? (it.aggregate ?? fieldName(it.field)));
        break;
      case "count":
        out.push(it.alias ?? "count");
        break;
      case "embedded":
        if (it.embed.node.select.length === 0) break;
        if (it.embed.spread) out.push(...outputNames(it.embed.node));
        else out.push(it.embed.key);
        break;
    }
  }
  return out;
}

const CALL_ALIAS = "pgrst_call";

/** Rows read from a derived source, e.g. the rows a write returned. */
export interface RowsSource {
  readonly kind: "rows";
  /** `(…) AS "alias"`. */
  readonly from: Sql;
  readonly alias: string;
}

/** Where the root of a read comes from: its table, a call, or rows. */
export type RootSource = CallSource | RowsSource | null;

function isRows(root: RootSource): root is RowsSource {
  return root !== null && "kind" in root && root.kind === "rows";
}

/** Schema-qualified table names, by table. */
const tableRefs = new WeakMap<Table, Sql>();

/** `"schema"."table"`, one fragment per table (fragments are immutable). */
export function tableRef(table: Table): Sql {
  let ref = tableRefs.get(table);
  if (ref === undefined) {
    ref = qi(table.schema, table.name);
    tableRefs.set(table, ref);
  }
  return ref;
}

function rootRel(node: ReadNode, root: RootSource): Rel {
  if (root === null) {
    return relOf(tableRef(node.table), ident(node.table.name), node);
  }
  if (isRows(root)) {
    // the rows are an anonymous record: a computed field or relationship
    // takes it as the table's row type (overloads are told apart by it)
    const name = ident(root.alias);
    const row = sql`${name}::${qi(node.table.schema, node.table.name)}`;
    return relOf(name, row, node);
  }
  const name = ident(CALL_ALIAS);
  return relOf(name, name, node);
}

/**
 * Argument type names as fragments, by name: they come from the schema
 * cache (a function's declared parameter types), never from a request.
 */
const typeKeywords = new Map<string, Sql>();
function typeKeyword(type: string): Sql {
  let out = typeKeywords.get(type);
  if (out === undefined) {
    out = keyword(type);
    if (typeKeywords.size >= 1024) typeKeywords.clear();
    typeKeywords.set(type, out);
  }
  return out;
}

/** Schema-qualified function names, by function. */
const routineRefs = new WeakMap<Routine, Sql>();
function routineRef(r: Routine): Sql {
  let ref = routineRefs.get(r);
  if (ref === undefined) {
    ref = qi(r.schema, r.name);
    routineRefs.set(r, ref);
  }
  return ref;
}

/** `"schema"."fn"("a" := $1::type, …) AS "pgrst_call"`. */
export function callSql(call: CallSource): Sql {
  const args = call.args.map((a) => {
    const v = sql`${param(a.value)}::${typeKeyword(a.type)}`;
    if (a.name === "") return v;
    return a.variadic
      ? sql`VARIADIC ${ident(a.name)} := ${v}`
      : sql`${ident(a.name)} := ${v}`;
  });
  const fn = sql`${routineRef(call.routine)}(${join(args)})`;
  // a bare record cannot be a FROM item without a column definition list:
  // it is called in a select list, as a scalar
  if (
    call.routine.returnTypeName === "record" && !call.routine.returnsComposite
  ) {
    return sql`(SELECT ${fn} AS ${ident(CALL_ALIAS)}) AS ${ident(CALL_ALIAS)}`;
  }
  return sql`${fn} AS ${ident(CALL_ALIAS)}`;
}

function rootFrom(node: ReadNode, rel: Rel, root: RootSource): Sql {
  return fromSql(
    node,
    rel,
    root === null ? rel.ref : isRows(root) ? root.from : callSql(root),
  );
}

/** The source query of a read node. */
export function sourceSql(node: ReadNode, call: RootSource): Sql {
  const rel = rootRel(node, call);
  const { list, groupBy } = selectSql(rel, node.select);
  return sql`SELECT ${list} FROM ${rootFrom(node, rel, call)}${
    whereSql(conditions(node, rel, []))
  }${tailSql(node, rel, groupBy)}`;
}

/** The count query of a read node (no range, no order). */
export function countSql(node: ReadNode, call: CallSource | null): Sql {
  const rel = rootRel(node, call);
  const from = call === null ? rel.ref : callSql(call);
  return sql`SELECT 1 FROM ${from}${whereSql(countConditions(node, rel, []))}`;
}

const CSV_BODY = keyword(
  "(SELECT coalesce(string_agg(a.k, ','), '') FROM (SELECT json_object_keys(r)::text AS k FROM (SELECT row_to_json(hh) AS r FROM pgrst_source AS hh LIMIT 1) s) a) || chr(10) || coalesce(string_agg(substring(_postgrest_t::text, 2, length(_postgrest_t::text) - 2), chr(10)), '')",
);

const GEOJSON_BODY = keyword(
  "json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(ST_AsGeoJSON(_postgrest_t)::json), '[]'))",
);

/** The JSON, single-object or CSV body expression over `_postgrest_t`. */
export function bodySql(
  plan: { media: ReadPlan["media"]; call: CallSource | null },
): Sql {
  const shape = plan.call?.shape ?? "set";
  const value = sql`_postgrest_t.${ident(CALL_ALIAS)}`;
  const send = plan.media.kind === "raw" ? plan.media.send ?? null : null;
  const handler = plan.media.kind === "raw" ? plan.media.handler ?? null : null;
  if (send !== null && handler !== null) {
    // a media type handler: the aggregate over the rows, in binary form
    return sql`coalesce(encode(${qi(send[0], send[1])}(${
      qi(handler[0], handler[1])
    }(_postgrest_t)), 'base64'), '')`;
  }
  if (send !== null) {
    // the binary form travels as base64 text and is decoded before sending
    return sql`coalesce(encode(${
      qi(send[0], send[1])
    }((array_agg(${value}))[1]), 'base64'), '')`;
  }
  if (
    plan.media.kind === "text" || plan.media.kind === "xml" ||
    plan.media.kind === "raw"
  ) {
    // raw output of a scalar function: the values' text, concatenated
    return sql`coalesce(string_agg(${value}::text, ''), '')`;
  }
  switch (shape) {
    case "void":
      return sql`''`;
    case "scalar":
      return sql`coalesce(json_agg(${value})->0, 'null')`;
    case "scalar-set":
      if (plan.media.kind !== "csv" && plan.media.kind !== "geojson") {
        return sql`coalesce(json_agg(${value}), '[]')`;
      }
      break;
    case "single":
      if (plan.media.kind !== "csv" && plan.media.kind !== "geojson") {
        return sql`coalesce(json_agg(_postgrest_t)->0, 'null')`;
      }
      break;
    case "set":
      break;
  }
  const row = plan.media.stripNulls
    ? sql`json_strip_nulls(row_to_json(_postgrest_t))`
    : sql`_postgrest_t`;
  switch (plan.media.kind) {
    case "json":
      return sql`coalesce(json_agg(${row}), '[]')`;
    case "singular":
      return sql`coalesce(json_agg(${row})->0, 'null')`;
    case "csv":
      return CSV_BODY;
    case "geojson":
      // PostGIS raises 22023 "geometry column is missing" for other rows
      return GEOJSON_BODY;
  }
}

/** The main statement of a read. */
export function readStatement(plan: ReadPlan): Sql {
  const range = plan.node.range;
  const counted = plan.count === "exact" || plan.count === "estimated";
  // without a range the page is the whole result: no second count query
  const total = !counted
    ? sql`null::bigint`
    : range.limit === null && range.offset === 0
    ? sql`pg_catalog.count(_postgrest_t)`
    : plan.countLimit !== undefined
    ? sql`(SELECT pg_catalog.count(*) FROM (${
      countSql(plan.node, plan.call)
    } LIMIT ${param(plan.countLimit)}::bigint) _pgrst_count)`
    : sql`(SELECT pg_catalog.count(*) FROM (${
      countSql(plan.node, plan.call)
    }) _pgrst_count)`;
  return sql`WITH pgrst_source AS (${
    sourceSql(plan.node, plan.call)
  }) SELECT ${total} AS total_result_set, pg_catalog.count(_postgrest_t) AS page_total, ${
    bodySql(plan)
  } AS body, nullif(current_setting('response.headers', true), '') AS response_headers, nullif(current_setting('response.status', true), '') AS response_status FROM (SELECT * FROM pgrst_source) _postgrest_t`;
}

/** An EXPLAIN of the count query, for `count=planned|estimated`. */
export function plannedCountStatement(plan: ReadPlan): Sql {
  return sql`EXPLAIN (FORMAT JSON) ${countSql(plan.node, plan.call)}`;
}
