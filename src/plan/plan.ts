/**
 * Owns planning: resolving an `ApiRequest` against the schema cache into an
 * `ActionPlan` — which relation, which columns, filters, order, range, count
 * and output media type — or a PGRST2xx/PGRST1xx error.
 *
 * Pure.
 *
 * @module
 */

import { Memo2 } from "../memo.ts";
import type {
  ApiRequest,
  LogicTree,
  OrderTerm,
  QueryParams,
  RangeSpec,
  SelectItem,
} from "../api_request/types.ts";
import type { Config } from "../config/types.ts";
import {
  aggregatesNotAllowed,
  notEmbedded,
  notImplemented,
  PgrstError,
  rpcMethodError,
  tableNotFound,
} from "../error.ts";
import {
  canUseTable,
  computedOf,
  findTable,
  type Routine,
  type SchemaCache,
  type Table,
} from "../schema_cache/types.ts";
import { parseFilterParam } from "../api_request/query_params.ts";
import { planCall, resultTable } from "./call.ts";
import { closestMatch } from "./fuzzy.ts";
import { type MutatePlan, planMutation } from "./mutate.ts";
import {
  isToOne,
  type Relationship,
  resolveRelationship,
} from "./relationships.ts";
import {
  negotiate,
  negotiateDomain,
  negotiateHandler,
  type OutputMedia,
} from "./negotiate.ts";
import { type OpenApiPlan, planRoot } from "../openapi/plan.ts";

/** An embedded resource, planned. */
export interface EmbedNode {
  /** The key in the parent's JSON (alias or name). */
  readonly key: string;
  /** The name written in `select` (for legacy target-name paths). */
  readonly name: string;
  readonly rel: Relationship;
  readonly joinType: "inner" | "left";
  readonly spread: boolean;
  /** SQL aliases of the target table and of the lateral join. */
  readonly tableAlias: string;
  readonly joinAlias: string;
  readonly node: ReadNode;
}

/** A select item after planning: plain items, or an embed. */
export type PlannedItem =
  | Exclude<SelectItem, { kind: "embed" }>
  | { readonly kind: "embedded"; readonly embed: EmbedNode };

/** `rel=is.null` / `rel=not.is.null` on an embed. */
export interface EmbedNullFilter {
  readonly key: string;
  readonly isNull: boolean;
}

/** A planned read of one relation and its embeds. */
export interface ReadNode {
  readonly table: Table;
  /** Computed fields of the table (functions of its row), by name. */
  readonly computedFields: ReadonlyMap<string, Routine>;
  readonly select: readonly PlannedItem[];
  readonly embeds: readonly EmbedNode[];
  readonly where: readonly LogicTree[];
  readonly embedFilters: readonly EmbedNullFilter[];
  readonly order: readonly OrderTerm[];
  readonly range: RangeSpec;
}

/** A function call whose result is read like a relation. */
export interface CallSource {
  readonly routine: Routine;
  /** Named arguments with their declared types; values are text or null. */
  readonly args: readonly {
    /** Empty for the single unnamed parameter (passed positionally). */
    readonly name: string;
    readonly type: string;
    readonly value: string | null;
    readonly variadic: boolean;
  }[];
  readonly shape: "set" | "single" | "scalar" | "scalar-set" | "void";
  /** Whether the result is signed as a JWT (return type `*jwt_claims`). */
  readonly signJwt: boolean;
}

/** A read request's plan (of a relation, or of a function's result). */
export interface ReadPlan {
  readonly kind: "read";
  readonly call: CallSource | null;
  readonly node: ReadNode;
  readonly count: "exact" | "planned" | "estimated" | null;
  readonly media: OutputMedia;
  readonly headOnly: boolean;
  /** A deprecation to report in a `Warning` header. */
  readonly warning?: string;
  /**
   * `count=estimated` with db-max-rows: the exact count stops at
   * db-max-rows + 1 (beyond it the planner's estimate may be used).
   */
  readonly countLimit?: number;
}

/** Every plan kind. */
export type ActionPlan = ReadPlan | MutatePlan | InfoPlan | OpenApiPlan;

/** A response that needs no database: OPTIONS. */
export interface InfoPlan {
  readonly kind: "info";
  /** The `Allow` header. */
  readonly allow: string;
}

/** The methods a table or view allows, as PostgREST computes them. */
export function allowedMethods(t: Table): string {
  const m = ["OPTIONS", "GET", "HEAD"];
  if (t.insertable) m.push("POST");
  if (t.insertable && t.updatable && t.primaryKey.length > 0) m.push("PUT");
  if (t.updatable) m.push("PATCH");
  if (t.deletable) m.push("DELETE");
  return m.join(",");
}

function findRelation(
  req: ApiRequest,
  name: string,
  cache: SchemaCache,
  role: string | null,
): Table {
  const t = findTable(cache, req.schema, name);
  if (t !== undefined) return t;
  // the hint names only what the request's role may use
  const names = [...cache.tables.values()].filter((x) =>
    x.schema === req.schema && canUseTable(cache, role, x)
  )
    .map((x) => x.name);
  throw tableNotFound(req.schema, name, closestMatch(name, names));
}

function checkSelect(items: readonly SelectItem[], config: Config): void {
  for (const it of items) {
    switch (it.kind) {
      case "star":
        break;
      case "count":
        if (!config.dbAggregatesEnabled) throw aggregatesNotAllowed();
        break;
      case "field":
        if (it.aggregate !== null && !config.dbAggregatesEnabled) {
          throw aggregatesNotAllowed();
        }
        break;
      case "embed":
        checkSelect(it.select, config);
        break;
      default: {
        const never: never = it;
        throw new Error(`unexpected select item ${String(never)}`);
      }
    }
  }
}

interface PlanContext {
  readonly cache: SchemaCache;
  readonly config: Config;
  readonly params: QueryParams;
  readonly counter: { n: number };
}

function samePath(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** PostgREST's warning for a relation name used instead of its alias. */
export function legacyTargetWarning(name: string, alias: string): string {
  return `Embedded resource was referenced by relation name even though it has an alias. This is deprecated and will stop working in a future release. Update \`${name}\` to \`${alias}\` in query string filters, orders or limits.`;
}

/** Paths (by key, and by name when legacy target names are on) of embeds. */
function knownPaths(
  node: ReadNode,
  prefix: readonly string[],
  legacy: boolean,
  out: Map<string, readonly string[]>,
): void {
  for (const e of node.embeds) {
    const byKey = [...prefix, e.key];
    out.set(byKey.join("\u0000"), byKey);
    if (legacy && e.key !== e.name) {
      out.set([...prefix, e.name].join("\u0000"), byKey);
    }
    knownPaths(e.node, byKey, legacy, out);
  }
}

function planNode(
  ctx: PlanContext,
  table: Table,
  path: readonly string[],
  items: readonly SelectItem[],
  range: RangeSpec,
): ReadNode {
  const select: PlannedItem[] = [];
  const embeds: EmbedNode[] = [];
  for (const it of items) {
    if (it.kind !== "embed") {
      select.push(it);
      continue;
    }
    const rel = resolveRelationship(ctx.cache, table, it.name, it.hint);
    if (
      it.spread && !isToOne(rel) &&
      it.select.some((x) =>
        x.kind === "count" || (x.kind === "field" && x.aggregate !== null)
      )
    ) {
      throw notImplemented(
        "Aggregates are not implemented for one-to-many or many-to-many spreads.",
      );
    }
    const key = it.alias ?? it.name;
    ctx.counter.n++;
    const n = ctx.counter.n;
    const childPath = [...path, key];
    const childRange = ctx.params.ranges.get(childPath.join("\u0000")) ??
      (it.alias !== null && ctx.config.urlUseLegacyTargetNames
        ? ctx.params.ranges.get([...path, it.name].join("\u0000"))
        : undefined) ??
      { offset: 0, limit: null };
    const child = planNode(
      ctx,
      rel.target,
      childPath,
      it.select,
      isToOne(rel)
        ? childRange
        : applyMaxRows(childRange, ctx.config.dbMaxRows),
    );
    const embed: EmbedNode = {
      key,
      name: it.name,
      rel,
      joinType: it.joinType ?? "left",
      spread: it.spread,
      tableAlias: `${rel.target.name}_${n}`,
      joinAlias: `${table.name}_${it.name}_${n}`,
      node: child,
    };
    embeds.push(embed);
    select.push({ kind: "embedded", embed });
  }
  return attachConditions(ctx, {
    table,
    computedFields: computedFieldsOf(ctx.cache, table),
    select,
    embeds,
    where: NONE,
    embedFilters: NONE,
    order: NONE,
    range,
  }, path);
}

/** An empty list, shared (plans are not changed after they are made). */
const NONE: readonly never[] = Object.freeze([]);

/** Computed fields by schema cache and table (they depend on nothing else). */
const computedFieldsMemo = new Memo2<
  SchemaCache,
  Table,
  ReadonlyMap<string, Routine>
>((cache, table) => {
  const m = new Map<string, Routine>();
  for (const r of computedOf(cache, table)) {
    if (!r.returnsSet && !table.columnsByName.has(r.name)) m.set(r.name, r);
  }
  return m;
}, () => new WeakMap());

/** The computed fields of a table: functions of its row returning one value, by name. */
function computedFieldsOf(
  cache: SchemaCache,
  table: Table,
): ReadonlyMap<string, Routine> {
  return computedFieldsMemo.get(cache, table);
}

/** Adds the filters, logic trees and order terms addressed to `path`. */
function attachConditions(
  ctx: PlanContext,
  node: ReadNode,
  path: readonly string[],
): ReadNode {
  const params = ctx.params;
  if (
    params.filters.length === 0 && params.logic.length === 0 &&
    params.order.length === 0
  ) {
    return node;
  }
  const where: LogicTree[] = [];
  const embedFilters: EmbedNullFilter[] = [];
  for (const f of ctx.params.filters) {
    if (!samePath(path, f.path)) continue;
    // a name that is both an embed and a column filters the column
    const embed = node.table.columnsByName.has(f.filter.field.name)
      ? undefined
      : node.embeds.find((e) => e.key === f.filter.field.name);
    const op = f.filter.operation;
    if (embed !== undefined && f.filter.field.jsonPath.length === 0) {
      if (
        op.kind === "is" && (op.value === "null" || op.value === "not_null")
      ) {
        const isNull = (op.value === "null") !== f.filter.negated;
        embedFilters.push({ key: embed.key, isNull });
        continue;
      }
      throw new PgrstError(
        400,
        "PGRST120",
        `Bad operator on the '${embed.key}' embedded resource`,
        {
          details:
            "Only is null or not is null filters are allowed on embedded resources",
        },
      );
    }
    where.push({ kind: "filter", filter: f.filter });
  }
  for (const l of ctx.params.logic) {
    if (samePath(path, l.path)) where.push(l.tree);
  }
  const order: OrderTerm[] = [];
  for (const o of ctx.params.order) {
    if (!samePath(path, o.path)) continue;
    for (const t of o.terms) {
      if (t.kind === "relation") {
        const embed = node.embeds.find((e) => e.key === t.relation);
        if (embed === undefined) throw notEmbedded(t.relation);
        if (!isToOne(embed.rel)) {
          throw new PgrstError(
            400,
            "PGRST118",
            `A related order on '${embed.key}' is not possible`,
            {
              details:
                `'${node.table.name}' and '${embed.key}' do not form a many-to-one or one-to-one relationship`,
            },
          );
        }
      }
      order.push(t);
    }
  }
  return {
    table: node.table,
    computedFields: node.computedFields,
    select: node.select,
    embeds: node.embeds,
    where,
    embedFilters: embedFilters.length === 0 ? NONE : embedFilters,
    order: order.length === 0 ? NONE : order,
    range: node.range,
  };
}

/** Rewrites legacy target-name paths to key paths; PGRST108 for unknown ones. */
function normalizePaths(
  params: QueryParams,
  root: ReadNode,
  legacy: boolean,
  warnings: string[],
): QueryParams {
  const known = new Map<string, readonly string[]>();
  knownPaths(root, [], legacy, known);
  const keys = new Map<string, readonly string[]>();
  knownPaths(root, [], false, keys);
  const fix = (p: readonly string[]): readonly string[] => {
    if (p.length === 0) return p;
    const k = p.join("\u0000");
    const hit = known.get(k);
    if (hit !== undefined) {
      // a relation name used for an aliased embed: deprecated, warned once
      const i = keys.has(k) ? -1 : p.findIndex((x, j) => x !== hit[j]);
      const name = p[i];
      const alias = hit[i];
      if (
        name !== undefined && alias !== undefined && warnings.length === 0
      ) {
        warnings.push(legacyTargetWarning(name, alias));
      }
      return hit;
    }
    // report the first unknown element, with the alias hint when it is a name
    for (let i = 1; i <= p.length; i++) {
      const prefix = p.slice(0, i);
      if (!known.has(prefix.join("\u0000"))) {
        const name = prefix[prefix.length - 1] ?? "";
        const aliased = findAliased(root, prefix.slice(0, -1), name);
        if (aliased !== null) {
          throw new PgrstError(
            400,
            "PGRST108",
            `'${name}' is not an embedded resource in this request`,
            {
              details:
                "Target names are not allowed in filters if they have an alias",
              hint:
                `Change '${name}' to '${aliased}' in filters, orders or limits.`,
            },
          );
        }
        throw notEmbedded(name);
      }
    }
    return p;
  };
  const ranges = new Map<string, RangeSpec>();
  for (const [k, v] of params.ranges) {
    ranges.set(k === "" ? "" : fix(k.split("\u0000")).join("\u0000"), v);
  }
  return {
    ...params,
    filters: params.filters.map((f) => ({ ...f, path: fix(f.path) })),
    logic: params.logic.map((l) => ({ ...l, path: fix(l.path) })),
    order: params.order.map((o) => ({ ...o, path: fix(o.path) })),
    ranges,
  };
}

function findAliased(
  root: ReadNode,
  parentPath: readonly string[],
  name: string,
): string | null {
  let node: ReadNode | undefined = root;
  for (const k of parentPath) {
    node = node?.embeds.find((e) => e.key === k)?.node;
  }
  const e = node?.embeds.find((x) => x.name === name && x.key !== name);
  return e === undefined ? null : e.key;
}

function applyMaxRows(range: RangeSpec, maxRows: number | null): RangeSpec {
  if (maxRows === null) return range;
  return {
    offset: range.offset,
    limit: range.limit === null ? maxRows : Math.min(range.limit, maxRows),
  };
}

/**
 * Whether every filter, logic tree, order and range of `params` addresses
 * the root (so {@linkcode normalizePaths} would change nothing).
 */
function rootOnly(params: QueryParams): boolean {
  for (const f of params.filters) if (f.path.length > 0) return false;
  for (const l of params.logic) if (l.path.length > 0) return false;
  for (const o of params.order) if (o.path.length > 0) return false;
  const r = params.ranges;
  return r.size === 0 || (r.size === 1 && r.has(""));
}

/**
 * Plans the read tree (select, embeds, filters, order) of a request's root
 * relation; root filters land in `where`.
 * @throws {PgrstError} PGRST108, PGRST118, PGRST120, PGRST123, PGRST200, PGRST201
 */
export function planReadNode(
  req: ApiRequest,
  config: Config,
  cache: SchemaCache,
  table: Table,
  range: RangeSpec,
  warnings: string[] = [],
): ReadNode {
  checkSelect(req.params.select, config);
  if (rootOnly(req.params)) {
    // every condition addresses the root: no path to resolve, one pass
    return planNode(
      { cache, config, params: req.params, counter: { n: 0 } },
      table,
      [],
      req.params.select,
      range,
    );
  }
  // first the shape (embeds only), to resolve the paths conditions address
  const bare: QueryParams = {
    ...req.params,
    filters: [],
    logic: [],
    order: [],
    ranges: new Map(),
  };
  const shape = planNode(
    { cache, config, params: bare, counter: { n: 0 } },
    table,
    [],
    req.params.select,
    range,
  );
  const params = normalizePaths(
    req.params,
    shape,
    config.urlUseLegacyTargetNames,
    warnings,
  );
  return planNode(
    { cache, config, params, counter: { n: 0 } },
    table,
    [],
    req.params.select,
    range,
  );
}

/**
 * Plans a request. `role` is the request's role: "Perhaps you meant" hints
 * name only tables and functions it may use (null: any).
 * @throws {PgrstError} PGRST107, PGRST108, PGRST117, PGRST123, PGRST126, PGRST127, PGRST205
 */
export function planRequest(
  request: ApiRequest,
  config: Config,
  cache: SchemaCache,
  role: string | null = null,
): ActionPlan {
  let req = request;
  const target = req.target;
  if (req.method === "OPTIONS") {
    if (target.kind === "root") {
      return { kind: "info", allow: "OPTIONS,GET,HEAD" };
    }
    if (target.kind === "routine") {
      const { call } = planCall(
        // a lookup only: no body, so no content type to read it by
        { ...req, method: "POST", body: null, contentType: "application/json" },
        target.name,
        cache,
        role,
      );
      return {
        kind: "info",
        allow: call.routine.volatility === "v"
          ? "OPTIONS,POST"
          : "OPTIONS,GET,HEAD,POST",
      };
    }
    return {
      kind: "info",
      allow: allowedMethods(findRelation(req, target.name, cache, role)),
    };
  }
  if (target.kind === "root") {
    const root = planRoot(req, config);
    if (root.kind === "openapi") return root;
    // db-root-spec: the function's result is the document
    const spec = planRequest(
      {
        ...req,
        target: { kind: "routine", name: root.routine },
        accept: ["application/json"],
      },
      config,
      cache,
      role,
    );
    return spec.kind === "read"
      ? { ...spec, media: { ...spec.media, contentType: root.contentType } }
      : spec;
  }
  let call: CallSource | null = null;
  let table: Table;
  if (target.kind === "routine") {
    if (!["GET", "HEAD", "POST"].includes(req.method)) {
      throw rpcMethodError(req.method);
    }
    const planned = planCall(req, target.name, cache, role);
    call = planned.call;
    table = resultTable(call.routine, cache);
    const extra = planned.filters;
    if (extra.length > 0) {
      req = {
        ...req,
        params: {
          ...req.params,
          filters: [
            ...req.params.filters,
            ...extra.map(([k, v]) => parseFilterParam(k, v)),
          ],
        },
      };
    }
  } else {
    table = findRelation(req, target.name, cache, role);
    if (req.method !== "GET" && req.method !== "HEAD") {
      return planMutation(req, config, cache, table);
    }
  }
  const range = applyMaxRows(req.range, config.dbMaxRows);
  const warnings: string[] = [];
  const node = planReadNode(req, config, cache, table, range, warnings);
  // raw text output is for single scalar results; xml for xml results
  const raw = call === null
    ? "read"
    : call.routine.returnTypeName === "xml"
    ? "xml"
    : call.shape === "scalar"
    ? "scalar"
    : "read";
  // a single value of a media-type domain (media type handlers)
  const domain = call !== null && call.shape === "scalar"
    ? negotiateDomain(
      req.accept,
      call.routine.returnTypeName,
      call.routine.returnSend ?? null,
    )
    : null;
  // rows of a table or of a function's row type: media type handlers
  const rowsOf = call === null
    ? { schema: table.schema, name: table.name }
    : call.shape === "set" || call.shape === "single"
    ? {
      schema: call.routine.returnTypeSchema,
      name: call.routine.returnTypeName,
    }
    : null;
  const handled = rowsOf === null ? null : negotiateHandler(
    req.accept,
    cache.mediaHandlers ?? [],
    rowsOf,
    req.params.select.length === 1 && req.params.select[0]?.kind === "star",
    { planEnabled: config.dbPlanEnabled },
  );
  const media = domain ?? handled ?? negotiate(req.accept, raw, {
    planEnabled: config.dbPlanEnabled,
  });
  return {
    kind: "read",
    call,
    node,
    count: req.prefs.count,
    media,
    headOnly: req.method === "HEAD",
    ...(warnings[0] === undefined ? {} : { warning: warnings[0] }),
    ...(req.prefs.count === "estimated" && call === null &&
        config.dbMaxRows !== null
      ? { countLimit: config.dbMaxRows + 1 }
      : {}),
  };
}
