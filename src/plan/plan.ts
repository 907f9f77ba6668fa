/**
 * Owns planning: resolving an `ApiRequest` against the schema cache into an
 * `ActionPlan` — which relation, which columns, filters, order, range, count
 * and output media type — or a PGRST2xx/PGRST1xx error.
 *
 * Pure.
 *
 * @module
 */

import type {
  ApiRequest,
  LogicTree,
  OrderTerm,
  RangeSpec,
  SelectItem,
} from "../api_request/types.ts";
import type { Config } from "../config/types.ts";
import {
  aggregatesNotAllowed,
  notEmbedded,
  notImplemented,
  PgrstError,
  tableNotFound,
} from "../error.ts";
import {
  findTable,
  type SchemaCache,
  type Table,
} from "../schema_cache/types.ts";
import { closestMatch } from "./fuzzy.ts";
import { negotiate, type OutputMedia } from "./negotiate.ts";

/** A planned read of one relation. */
export interface ReadNode {
  readonly table: Table;
  readonly select: readonly SelectItem[];
  readonly where: readonly LogicTree[];
  readonly order: readonly OrderTerm[];
  readonly range: RangeSpec;
}

/** A read request's plan. */
export interface ReadPlan {
  readonly kind: "read";
  readonly node: ReadNode;
  readonly count: "exact" | "planned" | "estimated" | null;
  readonly media: OutputMedia;
  readonly headOnly: boolean;
}

/** Every plan kind. */
export type ActionPlan = ReadPlan;

function findRelation(
  req: ApiRequest,
  name: string,
  cache: SchemaCache,
): Table {
  const t = findTable(cache, req.schema, name);
  if (t !== undefined) return t;
  const names = [...cache.tables.values()].filter((x) =>
    x.schema === req.schema
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

function embedNames(items: readonly SelectItem[]): Set<string> {
  const out = new Set<string>();
  for (const it of items) {
    if (it.kind === "embed") out.add(it.alias ?? it.name);
  }
  return out;
}

function applyMaxRows(range: RangeSpec, maxRows: number | null): RangeSpec {
  if (maxRows === null) return range;
  return {
    offset: range.offset,
    limit: range.limit === null ? maxRows : Math.min(range.limit, maxRows),
  };
}

/**
 * Plans a request.
 * @throws {PgrstError} PGRST107, PGRST108, PGRST123, PGRST127, PGRST205
 */
export function planRequest(
  req: ApiRequest,
  config: Config,
  cache: SchemaCache,
): ActionPlan {
  const target = req.target;
  if (target.kind !== "relation") {
    throw notImplemented(
      target.kind === "root" ? "The root endpoint" : "Calling functions",
    );
  }
  if (req.method !== "GET" && req.method !== "HEAD") {
    throw notImplemented(`The ${req.method} method on tables and views`);
  }
  const table = findRelation(req, target.name, cache);
  checkSelect(req.params.select, config);
  const embeds = embedNames(req.params.select);
  for (const it of req.params.select) {
    if (it.kind === "embed") {
      throw new PgrstError(
        400,
        "PGRST200",
        `Could not find a relationship between '${table.name}' and '${it.name}' in the schema cache`,
        {
          details:
            `Searched for a foreign key relationship between '${table.name}' and '${it.name}' in the schema '${table.schema}', but no matches were found.`,
        },
      );
    }
  }
  const badPath = (path: readonly string[]): void => {
    const first = path[0];
    if (first !== undefined && !embeds.has(first)) throw notEmbedded(first);
  };
  for (const f of req.params.filters) badPath(f.path);
  for (const l of req.params.logic) badPath(l.path);
  for (const o of req.params.order) badPath(o.path);
  for (const k of req.params.ranges.keys()) {
    if (k !== "") badPath(k.split("\u0000"));
  }
  for (const o of req.params.order) {
    for (const t of o.terms) {
      if (t.kind === "relation") throw notEmbedded(t.relation);
    }
  }
  const where: LogicTree[] = [];
  for (const f of req.params.filters) {
    if (f.path.length === 0) where.push({ kind: "filter", filter: f.filter });
  }
  for (const l of req.params.logic) {
    if (l.path.length === 0) where.push(l.tree);
  }
  const order = req.params.order.filter((o) => o.path.length === 0).flatMap((
    o,
  ) => o.terms);
  const media = negotiate(req.accept, "read");
  return {
    kind: "read",
    node: {
      table,
      select: req.params.select,
      where,
      order,
      range: applyMaxRows(req.range, config.dbMaxRows),
    },
    count: req.prefs.count,
    media,
    headOnly: req.method === "HEAD",
  };
}
