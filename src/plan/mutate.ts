/**
 * Owns planning writes: POST (insert, upsert with `resolution` and
 * `on_conflict`), PATCH (update), PUT (single-row upsert by primary key) and
 * DELETE, with the payload's columns checked against the schema cache, the
 * filters that choose the rows, and the representation to return.
 *
 * Pure.
 *
 * @module
 */

import { parsePayload, type Payload } from "../api_request/payload.ts";
import type { ApiRequest, LogicTree } from "../api_request/types.ts";
import type { Config } from "../config/types.ts";
import { columnNotFound, PgrstError } from "../error.ts";
import type { Column, SchemaCache, Table } from "../schema_cache/types.ts";
import { negotiate, type OutputMedia } from "./negotiate.ts";
import { planReadNode, type ReadNode } from "./plan.ts";

/** A planned write. */
export interface MutatePlan {
  readonly kind: "mutate";
  readonly op: "insert" | "update" | "delete";
  readonly method: "POST" | "PATCH" | "PUT" | "DELETE";
  readonly table: Table;
  /** The body (insert/update); null for DELETE. */
  readonly payload: Payload | null;
  /** The columns written. */
  readonly columns: readonly Column[];
  readonly missingDefault: boolean;
  readonly onConflict: {
    readonly columns: readonly string[];
    readonly action: "merge" | "ignore";
  } | null;
  /** The rows changed (update/delete). */
  readonly where: readonly LogicTree[];
  /** What to return: the representation, or only the primary key. */
  readonly returnMode: "representation" | "headers-only" | "minimal";
  /** The representation's read tree (select, embeds, order) over the rows. */
  readonly read: ReadNode;
  /** Columns the representation or Location needs from RETURNING. */
  readonly returning: readonly string[];
  readonly media: OutputMedia;
  readonly count: "exact" | "planned" | "estimated" | null;
  /** Nothing to do (an empty PATCH body or an empty array). */
  readonly noop: boolean;
  /** Preferences that took effect, for Preference-Applied. */
  readonly applied: {
    readonly resolution: boolean;
    readonly missing: boolean;
  };
}

function resolveColumns(
  table: Table,
  names: readonly string[],
): Column[] {
  return names.map((n) => {
    const c = table.columnsByName.get(n);
    if (c === undefined) throw columnNotFound(n, table.name);
    return c;
  });
}

/**
 * Base columns the representation reads from the changed rows. A computed
 * field or relationship takes the whole row (cast to the table's type), so
 * then every column is read, in the table's order.
 */
function neededColumns(table: Table, node: ReadNode): string[] {
  const out = new Set<string>();
  let wholeRow = false;
  for (const it of node.select) {
    switch (it.kind) {
      case "star":
        for (const c of table.columns) out.add(c.name);
        break;
      case "field":
        if (table.columnsByName.has(it.field.name)) out.add(it.field.name);
        else if (node.computedFields.has(it.field.name)) wholeRow = true;
        break;
      case "count":
        break;
      case "embedded": {
        const r = it.embed.rel;
        if (r.kind === "computed") wholeRow = true;
        const cols = r.kind === "m2m"
          ? r.sourceColumns.map((c) => c[0])
          : r.kind === "computed"
          ? []
          : r.columns.map((c) => c[0]);
        for (const c of cols) out.add(c);
        break;
      }
    }
  }
  for (const t of node.order) {
    if (t.kind === "field" && table.columnsByName.has(t.field.name)) {
      out.add(t.field.name);
    }
  }
  return wholeRow ? table.columns.map((c) => c.name) : [...out];
}

function isPkFilter(t: LogicTree, pk: readonly string[]): string | null {
  if (t.kind !== "filter") return null;
  const f = t.filter;
  if (
    f.negated || f.field.jsonPath.length > 0 || f.operation.kind !== "op" ||
    f.operation.op !== "eq" || !pk.includes(f.field.name)
  ) return null;
  return f.field.name;
}

/**
 * Checks PUT's rules: filters are `eq` on exactly the primary key, the body
 * is one object carrying the same key values, and no limit/offset.
 * @throws {PgrstError} PGRST105, PGRST114, PGRST115
 */
function checkPut(
  req: ApiRequest,
  table: Table,
  where: readonly LogicTree[],
  payload: Payload,
): void {
  if (req.params.ranges.size > 0) {
    throw new PgrstError(
      400,
      "PGRST114",
      "limit/offset querystring parameters are not allowed for PUT",
    );
  }
  const pk = table.primaryKey;
  const named = where.map((w) => isPkFilter(w, pk));
  if (
    pk.length === 0 || named.some((n) => n === null) ||
    new Set(named).size !== pk.length || named.length !== pk.length
  ) {
    throw new PgrstError(
      405,
      "PGRST105",
      "Filters must include all and only primary key columns with 'eq' operators",
    );
  }
  const row: unknown = (JSON.parse(payload.json) as unknown[])[0];
  const obj = typeof row === "object" && row !== null
    ? row as Record<string, unknown>
    : {};
  for (const w of where) {
    if (w.kind !== "filter" || w.filter.operation.kind !== "op") continue;
    const v = obj[w.filter.field.name];
    const given = v === null || v === undefined
      ? null
      : typeof v === "string"
      ? v
      : JSON.stringify(v);
    if (given !== w.filter.operation.value) {
      throw new PgrstError(
        400,
        "PGRST115",
        "Payload values do not match URL in primary key column(s)",
      );
    }
  }
}

function firstRow(p: Payload): Payload {
  const rows = JSON.parse(p.json) as unknown[];
  return { ...p, json: JSON.stringify(rows.slice(0, 1)), rows: 1 };
}

/**
 * Plans a write on a table or view.
 * @throws {PgrstError} PGRST102, PGRST105, PGRST114, PGRST115, PGRST204, …
 */
export function planMutation(
  req: ApiRequest,
  config: Config,
  cache: SchemaCache,
  table: Table,
): MutatePlan {
  const method = req.method === "POST" || req.method === "PATCH" ||
      req.method === "PUT" || req.method === "DELETE"
    ? req.method
    : "POST";
  const op = method === "DELETE"
    ? "delete"
    : method === "PATCH"
    ? "update"
    : "insert";
  const node = planReadNode(req, config, cache, table, {
    offset: 0,
    limit: null,
  });
  const where = node.where;
  const read: ReadNode = { ...node, where: [], embedFilters: [] };
  const explicit = req.params.columns;
  let payload: Payload | null = null;
  let columns: Column[] = [];
  if (op !== "delete") {
    payload = req.payload ??
      parsePayload(req.body, req.contentType, explicit === null);
    // PATCH takes one object: of an array, the first element is used
    columns = resolveColumns(table, explicit ?? payload.keys).filter((c) =>
      !c.generated
    );
  }
  let onConflict: MutatePlan["onConflict"] = null;
  let resolutionApplied = false;
  if (method === "PUT") {
    if (payload !== null) {
      checkPut(req, table, where, payload);
      // PUT writes one row: the first element of an array
      if (payload.rows > 1) payload = firstRow(payload);
    }
    onConflict = { columns: table.primaryKey, action: "merge" };
  } else if (op === "insert" && req.prefs.resolution !== null) {
    const cols = req.params.onConflict ?? table.primaryKey;
    if (cols.length > 0) {
      resolveColumns(table, cols);
      onConflict = {
        columns: cols,
        action: req.prefs.resolution === "merge-duplicates"
          ? "merge"
          : "ignore",
      };
      resolutionApplied = true;
    }
  }
  const returnMode = req.prefs.return ?? "minimal";
  const returning = returnMode === "representation"
    ? neededColumns(table, read)
    : returnMode === "headers-only" && op === "insert"
    ? [...table.primaryKey]
    : [];
  const noop = payload !== null &&
    (payload.rows === 0 || (op === "update" && columns.length === 0));
  return {
    kind: "mutate",
    op,
    method,
    table,
    payload,
    columns,
    missingDefault: req.prefs.missing === "default" && op !== "delete",
    onConflict,
    where: method === "PUT" ? [] : where,
    returnMode,
    read,
    returning,
    media: negotiate(req.accept, "read", {
      planEnabled: config.dbPlanEnabled,
    }),
    count: req.prefs.count,
    noop,
    applied: {
      resolution: resolutionApplied,
      missing: req.prefs.missing !== null && op !== "delete",
    },
  };
}
