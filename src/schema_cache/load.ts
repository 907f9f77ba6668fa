/**
 * Owns loading the schema cache from the catalog: runs the queries of
 * `catalog_sql.ts` for the exposed and extra-search-path schemas and turns
 * their rows into an immutable `SchemaCache`.
 *
 * @module
 */

import {
  FOREIGN_KEYS_SQL,
  MEDIA_HANDLERS_SQL,
  PRIVILEGES_SQL,
  RELATIONS_SQL,
  roleSettingsSql,
  ROUTINES_SQL,
  TABLES_SQL,
  VIEWS_SQL,
} from "./catalog_sql.ts";
import { viewColumnSources } from "./view_columns.ts";
import { preConfigStatement } from "../query/pre_query.ts";
import { render } from "../query/sql.ts";
import {
  baseKeysOf,
  expandThroughViews,
  type RelationInfo,
  resolveViewColumns,
  type ViewInfo,
} from "./view_relationships.ts";
import {
  type Column,
  type ForeignKey,
  type MediaHandler,
  qualifiedKey,
  type QualifiedName,
  type Representation,
  type RolePrivileges,
  type Routine,
  type RoutineParam,
  type SchemaCache,
  type Table,
} from "./types.ts";

/** Runs one parameterised catalog query. */
export type CatalogQuery = (
  text: string,
  params: readonly unknown[],
) => Promise<readonly Record<string, unknown>[]>;

function str(v: unknown): string {
  return typeof v === "string" ? v : String(v ?? "");
}
/** A `[schema, name]` JSON pair, or null. */
function qualifiedName(raw: unknown): readonly [string, string] | null {
  const v: unknown = typeof raw === "string" ? JSON.parse(raw) : raw;
  if (!Array.isArray(v) || v.length !== 2) return null;
  const [a, b]: unknown[] = v;
  return typeof a === "string" && typeof b === "string" ? [a, b] : null;
}

function strOrNull(v: unknown): string | null {
  return typeof v === "string" ? v : null;
}
function arr(v: unknown): readonly unknown[] {
  if (typeof v === "string") return arr(JSON.parse(v));
  return Array.isArray(v) ? v : [];
}
function rec(v: unknown): Record<string, unknown> {
  return typeof v === "object" && v !== null
    ? v as Record<string, unknown>
    : {};
}

/** `name=value` entries as pairs. */
export function parseSettings(v: unknown): [string, string][] {
  return arr(v).map(str).flatMap((e) => {
    const i = e.indexOf("=");
    return i < 0 ? [] : [[e.slice(0, i), e.slice(i + 1)] as [string, string]];
  });
}

/**
 * The settings applied to each role's requests, from the rows of
 * `roleSettingsSql`: those the authenticator may set (`settable`), without
 * the in-database configuration (`pgrst.*`); a later entry of a name (the
 * database-specific one) replaces an earlier one. Decided once per load, so
 * a request never sends a setting that would make it fail.
 */
export function applicableRoleSettings(
  rows: readonly Record<string, unknown>[],
): Map<string, [string, string][]> {
  const byRole = new Map<string, Map<string, string>>();
  for (const r of rows) {
    const name = str(r["name"]);
    if (r["settable"] !== true || name.toLowerCase().startsWith("pgrst.")) {
      continue;
    }
    const role = str(r["role"]);
    const settings = byRole.get(role) ?? new Map<string, string>();
    settings.set(name, str(r["value"]));
    byRole.set(role, settings);
  }
  return new Map([...byRole].map(([role, m]) => [role, [...m]]));
}

/**
 * The in-database configuration: the connecting role's `pgrst.*` settings
 * (`ALTER ROLE authenticator [IN DATABASE …] SET pgrst.<key>`), keyed by
 * PostgREST name (`db-max-rows`); the database-specific value wins. With
 * `preConfig` (`db-pre-config`), that function's `set_config` of the
 * given `pgrst.*` names comes first, below both, as in PostgREST.
 */
export async function loadDbConfig(
  query: CatalogQuery,
  preConfig: { readonly fn: string; readonly names: readonly string[] } | null =
    null,
): Promise<Record<string, string>> {
  let pre: Awaited<ReturnType<CatalogQuery>> = [];
  if (preConfig !== null) {
    const st = render(preConfigStatement(preConfig.fn, preConfig.names));
    pre = await query(st.text, st.params);
  }
  // which settings the role may set does not matter here: no version test
  const rows = [
    ...pre.filter((r) => r["value"] !== null && r["value"] !== undefined),
    ...await query(roleSettingsSql(0, true), []),
  ];
  const out: Record<string, string> = {};
  for (const r of rows) {
    const setting = str(r["name"]);
    if (!setting.startsWith("pgrst.")) continue;
    const name = setting.slice("pgrst.".length);
    // app.settings.<name> keep their name; other keys use '-' for '_'
    const key = name.startsWith("app.settings.")
      ? name
      : name.replaceAll("_", "-");
    out[key] = str(r["value"]);
  }
  return out;
}

/** A column's cast functions (`to_json`, `from_json`, `from_text`), or null. */
export function representationOf(raw: unknown): Representation | null {
  if (raw === null || raw === undefined) return null;
  const o = rec(typeof raw === "string" ? JSON.parse(raw) : raw);
  const fn = (v: unknown): QualifiedName | null => {
    const pair = v === undefined ? null : qualifiedName(v);
    return pair === null ? null : { schema: pair[0], name: pair[1] };
  };
  const toJson = fn(o["to_json"]);
  const fromJson = fn(o["from_json"]);
  const fromText = fn(o["from_text"]);
  if (toJson === null && fromJson === null && fromText === null) return null;
  return {
    ...(toJson === null ? {} : { toJson }),
    ...(fromJson === null ? {} : { fromJson }),
    ...(fromText === null ? {} : { fromText }),
  };
}

/** Builds a `Table` from a catalog row (exported for tests). */
export function tableFromRow(row: Record<string, unknown>): Table {
  const columns: Column[] = arr(row["columns"]).map((c) => {
    const r = rec(c);
    const col: Column = {
      name: str(r["name"]),
      description: strOrNull(r["description"]),
      nullable: r["nullable"] === true,
      type: str(r["type"]),
      nominalType: str(r["nominal"]),
      dataType: typeof r["data_type"] === "string"
        ? r["data_type"]
        : str(r["type"]),
      maxLength: typeof r["maxlen"] === "number" ? r["maxlen"] : null,
      defaultValue: strOrNull(r["default"]),
      generated: r["generated"] === true,
      enumValues: arr(r["enum"]).map(str),
      position: Number(r["position"]),
    };
    const repr = representationOf(r["repr"]);
    return repr === null ? col : { ...col, repr };
  });
  return {
    schema: str(row["schema"]),
    name: str(row["name"]),
    description: strOrNull(row["description"]),
    isView: row["is_view"] === true,
    isPartitioned: row["is_partitioned"] === true,
    insertable: row["insertable"] === true,
    updatable: row["updatable"] === true,
    deletable: row["deletable"] === true,
    primaryKey: arr(row["pk"]).map(str),
    uniques: arr(row["uniques"]).map((u) => arr(u).map(str)),
    columns,
    columnsByName: new Map(columns.map((c) => [c.name, c])),
  };
}

/**
 * Loads the schema cache for `schemas` (the exposed schemas plus the extra
 * search path, which is needed for relationships and types).
 */
export async function loadSchemaCache(
  query: CatalogQuery,
  schemas: readonly string[],
  pgVersion: number,
): Promise<SchemaCache> {
  const list = `{${
    schemas.map((s) => `"${s.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`)
      .join(",")
  }}`;
  const [tableRows, fkRows, routineRows, viewRows, privilegeRows] =
    await Promise.all([
      query(TABLES_SQL, [list]),
      query(FOREIGN_KEYS_SQL, [list]),
      query(ROUTINES_SQL, [list]),
      query(VIEWS_SQL, []),
      query(PRIVILEGES_SQL, [list]),
    ]);
  const views: ViewInfo[] = viewRows.map((r) => ({
    oid: Number(r["oid"]),
    sources: viewColumnSources(str(r["action"])),
  }));
  const oids = new Set<number>();
  for (const v of views) {
    oids.add(v.oid);
    for (const c of v.sources) if (c.relation !== 0) oids.add(c.relation);
  }
  const relationRows = oids.size === 0
    ? []
    : await query(RELATIONS_SQL, [`{${[...oids].join(",")}}`]);
  const relations = new Map<number, RelationInfo>();
  for (const r of relationRows) {
    const names = rec(
      typeof r["attnames"] === "string"
        ? JSON.parse(r["attnames"])
        : r["attnames"],
    );
    relations.set(Number(r["oid"]), {
      schema: str(r["schema"]),
      name: str(r["name"]),
      isView: r["is_view"] === true,
      attnames: new Map(
        Object.entries(names).map(([k, v]) => [Number(k), str(v)]),
      ),
      primaryKey: arr(r["pk"]).map(str),
      uniques: arr(r["uniques"]).map((u) => arr(u).map(str)),
    });
  }
  const tables = new Map<string, Table>();
  for (const row of tableRows) {
    const t = tableFromRow(row);
    tables.set(qualifiedKey(t.schema, t.name), t);
  }
  const baseKeys: ForeignKey[] = fkRows.map((r) => ({
    constraint: str(r["constraint"]),
    schema: str(r["schema"]),
    table: str(r["table"]),
    columns: arr(r["columns"]).map(str),
    refSchema: str(r["ref_schema"]),
    refTable: str(r["ref_table"]),
    refColumns: arr(r["ref_columns"]).map(str),
  }));
  const routines = new Map<string, Routine[]>();
  for (const r of routineRows) {
    const params: RoutineParam[] = arr(r["params"]).map((p) => {
      const o = rec(p);
      return {
        name: str(o["name"]),
        type: str(o["type"]),
        required: o["required"] === true,
        variadic: o["variadic"] === true,
      };
    });
    const v = str(r["volatility"]);
    const routine: Routine = {
      oid: Number(r["oid"]),
      schema: str(r["schema"]),
      name: str(r["name"]),
      description: strOrNull(r["description"]),
      params,
      returnTypeSchema: str(r["return_type_schema"]),
      returnTypeName: str(r["return_type_name"]),
      returnBaseType: strOrNull(r["return_base_type"]),
      returnSend: qualifiedName(r["return_send"]),
      returnsSet: r["returns_set"] === true,
      returnsComposite: r["returns_composite"] === true,
      volatility: v === "i" || v === "s" ? v : "v",
      estimatedRows: Number(r["est_rows"] ?? 0),
      settings: parseSettings(r["settings"]),
      firstArgType: typeof r["first_arg_name"] === "string"
        ? { schema: str(r["first_arg_schema"]), name: str(r["first_arg_name"]) }
        : null,
    };
    const key = qualifiedKey(routine.schema, routine.name);
    const same = routines.get(key) ?? [];
    same.push(routine);
    routines.set(key, same);
  }
  const expanded = expandThroughViews(
    tables,
    baseKeys,
    resolveViewColumns(views, relations),
    baseKeysOf(relations),
  );
  const computed = new Map<string, Routine[]>();
  for (const list of routines.values()) {
    for (const r of list) {
      const first = r.firstArgType;
      if (first === null || r.params.slice(1).some((p) => p.required)) continue;
      const key = qualifiedKey(first.schema, first.name);
      if (!expanded.tables.has(key)) continue;
      const same = computed.get(key) ?? [];
      same.push(r);
      computed.set(key, same);
    }
  }
  const roleSettings = applicableRoleSettings(
    await query(roleSettingsSql(pgVersion), []),
  );
  const mediaHandlers: MediaHandler[] = [];
  for (const r of await query(MEDIA_HANDLERS_SQL, [])) {
    const send = qualifiedName(r["send"]);
    if (send === null) continue;
    mediaHandlers.push({
      schema: str(r["schema"]),
      name: str(r["name"]),
      mediaType: str(r["media_type"]),
      target: typeof r["target_schema"] === "string"
        ? { schema: str(r["target_schema"]), name: str(r["target_name"]) }
        : null,
      send,
    });
  }
  const privileges = new Map<string, RolePrivileges>();
  for (const r of privilegeRows) {
    privileges.set(str(r["role"]), {
      tables: new Set(
        arr(r["tables"]).flatMap((t) => {
          const pair = qualifiedName(t);
          return pair === null ? [] : [qualifiedKey(pair[0], pair[1])];
        }),
      ),
      routines: new Set(arr(r["routines"]).map(Number)),
    });
  }
  return {
    tables: expanded.tables,
    foreignKeys: expanded.foreignKeys,
    routines,
    computed,
    roleSettings,
    privileges,
    mediaHandlers,
    pgVersion,
  };
}
