/**
 * Owns the schema cache's shape: the immutable picture of the exposed
 * schemas (tables, views, columns, keys, relationships, functions) that the
 * planner consults instead of the database.
 *
 * @module
 */

/** A column of a table or view. */
export interface Column {
  readonly name: string;
  readonly description: string | null;
  readonly nullable: boolean;
  /** `format_type` of the column's type, e.g. `integer`, `character varying(20)`. */
  readonly type: string;
  /** The base type name when the column's type is a domain, else `type`. */
  readonly nominalType: string;
  /**
   * PostgREST's `data_type`: built-in types (and domains over them) without
   * modifiers (`character varying`), other types schema-qualified
   * (`test.my_enum`). Absent in hand-built caches: read `type` then.
   */
  readonly dataType?: string;
  readonly maxLength: number | null;
  readonly defaultValue: string | null;
  /** A generated (computed, stored) column, which cannot be written. */
  readonly generated: boolean;
  readonly enumValues: readonly string[];
  readonly position: number;
  /**
   * Data representations: the implicit cast functions of the column's
   * domain type (PostgREST's "domain representations"). Absent when the
   * column's type is not such a domain.
   */
  readonly repr?: Representation;
}

/** A schema-qualified function name. */
export interface QualifiedName {
  readonly schema: string;
  readonly name: string;
}

/**
 * The cast functions of a domain: `toJson` formats a value for output
 * (domain → json), `fromJson` parses a body value (json → domain) and
 * `fromText` a query-string value (text → domain). Each may be absent.
 */
export interface Representation {
  readonly toJson?: QualifiedName;
  readonly fromJson?: QualifiedName;
  readonly fromText?: QualifiedName;
}

/** A table, view, materialized view or foreign table. */
export interface Table {
  readonly schema: string;
  readonly name: string;
  readonly description: string | null;
  readonly isView: boolean;
  readonly isPartitioned: boolean;
  readonly insertable: boolean;
  readonly updatable: boolean;
  readonly deletable: boolean;
  readonly primaryKey: readonly string[];
  /** Column sets of the primary key and unique constraints. */
  readonly uniques: readonly (readonly string[])[];
  readonly columns: readonly Column[];
  readonly columnsByName: ReadonlyMap<string, Column>;
}

/** A foreign key seen from its owner (many-to-one). */
export interface ForeignKey {
  readonly constraint: string;
  readonly schema: string;
  readonly table: string;
  readonly columns: readonly string[];
  readonly refSchema: string;
  readonly refTable: string;
  readonly refColumns: readonly string[];
  /**
   * Whether the key's columns are a unique key of its owner (of the base
   * table, for copies of a key onto views); absent when unknown.
   */
  readonly oneToOne?: boolean;
}

/** A function parameter. */
export interface RoutineParam {
  readonly name: string;
  readonly type: string;
  readonly required: boolean;
  readonly variadic: boolean;
}

/** A function callable through `/rpc`. */
export interface Routine {
  /** The function's OID (absent in hand-built caches). */
  readonly oid?: number;
  readonly schema: string;
  readonly name: string;
  readonly description: string | null;
  readonly params: readonly RoutineParam[];
  readonly returnTypeSchema: string;
  readonly returnTypeName: string;
  /** The base type when the return type is a domain (media type handlers). */
  readonly returnBaseType?: string | null;
  /**
   * The base type's binary send function (schema, name) when the return
   * type is a domain: raw media output is the value's binary form, as
   * PostgREST sends it.
   */
  readonly returnSend?: readonly [string, string] | null;
  readonly returnsSet: boolean;
  readonly returnsComposite: boolean;
  readonly volatility: "i" | "s" | "v";
  /** `ALTER FUNCTION … SET name = value` settings. */
  readonly settings?: readonly (readonly [string, string])[];
  /** The planner's row estimate (`ROWS n`); 1 makes a set function to-one. */
  readonly estimatedRows: number;
  /** Type of the first input parameter (for computed fields/relationships). */
  readonly firstArgType:
    | { readonly schema: string; readonly name: string }
    | null;
}

/** The whole cache. Keys of maps are `schema\u0000name`. */
export interface SchemaCache {
  readonly tables: ReadonlyMap<string, Table>;
  readonly foreignKeys: readonly ForeignKey[];
  readonly routines: ReadonlyMap<string, readonly Routine[]>;
  /**
   * Functions whose first parameter is a table's row type (and the rest
   * optional), by table key: computed fields and computed relationships.
   */
  readonly computed: ReadonlyMap<string, readonly Routine[]>;
  /**
   * `ALTER ROLE … SET` settings by role name, applied to its requests: only
   * those the authenticator may set, without `pgrst.*`.
   */
  readonly roleSettings?: ReadonlyMap<
    string,
    readonly (readonly [string, string])[]
  >;
  readonly pgVersion: number;
  /**
   * What each role the authenticator can switch to may use (tables and
   * views with any privilege, executable functions), by role name. Absent
   * in hand-built caches, where every object counts as usable.
   */
  readonly privileges?: ReadonlyMap<string, RolePrivileges>;
  /** Aggregates producing a media type (PostgREST's media type handlers). */
  readonly mediaHandlers?: readonly MediaHandler[];
}

/** The objects one role may use. */
export interface RolePrivileges {
  /** Tables and views by `qualifiedKey`. */
  readonly tables: ReadonlySet<string>;
  /** Function OIDs. */
  readonly routines: ReadonlySet<number>;
}

/**
 * Whether `role` may use a table or view (any privilege on it or on one of
 * its columns); true when the cache carries no privilege information.
 */
export function canUseTable(
  cache: SchemaCache,
  role: string | null,
  t: { readonly schema: string; readonly name: string },
): boolean {
  if (cache.privileges === undefined || role === null) return true;
  return cache.privileges.get(role)?.tables.has(
    qualifiedKey(t.schema, t.name),
  ) ??
    false;
}

/**
 * Whether `role` may execute a function; true when the cache carries no
 * privilege information or the function no OID.
 */
export function canUseRoutine(
  cache: SchemaCache,
  role: string | null,
  r: Routine,
): boolean {
  if (cache.privileges === undefined || role === null || r.oid === undefined) {
    return true;
  }
  return cache.privileges.get(role)?.routines.has(r.oid) ?? false;
}

/** An aggregate that renders rows as a media type. */
export interface MediaHandler {
  readonly schema: string;
  readonly name: string;
  /** The domain's name: a media type such as `text/tab-separated-values`. */
  readonly mediaType: string;
  /** The table whose rows it aggregates, or null for anyelement. */
  readonly target: { readonly schema: string; readonly name: string } | null;
  /** The base type's binary send function (schema, name). */
  readonly send: readonly [string, string];
}

/** Computed fields and relationships of a table. */
export function computedOf(cache: SchemaCache, t: Table): readonly Routine[] {
  return cache.computed.get(qualifiedKey(t.schema, t.name)) ?? [];
}

/** The map key of a schema-qualified name. */
export function qualifiedKey(schema: string, name: string): string {
  return `${schema}\u0000${name}`;
}

/** Looks a table or view up. */
export function findTable(
  cache: SchemaCache,
  schema: string,
  name: string,
): Table | undefined {
  return cache.tables.get(qualifiedKey(schema, name));
}
