/**
 * Owns the Swagger 2.0 document that `GET /` returns, built as PostgREST's
 * `Response/OpenAPI.hs` builds it: `info` from the schema comment, `host`,
 * `basePath` and `schemes` from the server or the proxy URI, one path per
 * table or view (`get`, plus `post`/`patch`/`delete` when it can be
 * written), one `/rpc/<name>` path per function (`get` only when it is not
 * volatile), `definitions` with PostgreSQL types mapped to Swagger types,
 * the shared `parameters`, and `security` when asked for.
 *
 * Pure: the caller picks the tables and functions the role may see.
 *
 * @module
 */

import type {
  Column,
  ForeignKey,
  Routine,
  RoutineParam,
  Table,
} from "../schema_cache/types.ts";
import { compact, type Json, type JsonObject, pointerRef } from "./json.ts";

/** Where the API is served: scheme, host, port and base path. */
export interface ServerLocation {
  readonly scheme: "http" | "https";
  readonly host: string;
  readonly port: number;
  readonly basePath: string;
}

/** Everything the document is built from. */
export interface SwaggerInput {
  /** The schema's comment: first line title, the rest description. */
  readonly description: string | null;
  /** Tables and views to document, in output order. */
  readonly tables: readonly Table[];
  /** Functions to document, in output order, one per name. */
  readonly routines: readonly Routine[];
  /** Foreign keys of the cache (for the `Note:` of FK columns). */
  readonly foreignKeys: readonly ForeignKey[];
  /** Whether a relation is a view (FKs to tables are preferred). */
  readonly isView: (schema: string, name: string) => boolean;
  readonly server: ServerLocation;
  /** `openapi-security-active`: add the JWT security definition. */
  readonly securityActive: boolean;
  /** `info.version`. */
  readonly version: string;
  /** The PostgREST documentation version in `externalDocs.url`. */
  readonly docsVersion: string;
}

/** The Swagger 2.0 document. */
export interface SwaggerDocument extends JsonObject {
  readonly swagger: "2.0";
  readonly info: JsonObject;
  readonly paths: JsonObject;
  readonly definitions: JsonObject;
  readonly parameters: JsonObject;
}

/** Swagger's primitive types. */
export type SwaggerType = "string" | "boolean" | "integer" | "number" | "array";

const JSON_MIME = "application/json";
const SINGULAR_STRIPPED = "application/vnd.pgrst.object+json;nulls=stripped";
const SINGULAR = "application/vnd.pgrst.object+json";

/**
 * The Swagger type of a PostgreSQL type name (`format_type` without
 * modifiers); null for json and jsonb, which may hold any value.
 */
export function swaggerType(pgType: string): SwaggerType | null {
  switch (pgType) {
    case "character varying":
    case "character":
    case "text":
      return "string";
    case "boolean":
      return "boolean";
    case "smallint":
    case "integer":
    case "bigint":
      return "integer";
    case "numeric":
    case "real":
    case "double precision":
      return "number";
    case "json":
    case "jsonb":
      return null;
  }
  return pgType.endsWith("[]") ? "array" : "string";
}

/** The `format` of a PostgreSQL type: int32/int64 for integers, else its name. */
export function swaggerFormat(pgType: string): string {
  switch (pgType) {
    case "smallint":
    case "integer":
      return "int32";
    case "bigint":
      return "int64";
    default:
      return pgType;
  }
}

function elementType(arrayType: string): string {
  return arrayType.slice(0, -2);
}

/** `items` of an array-typed schema: the element's type only. */
function schemaItems(pgType: string): JsonObject | undefined {
  if (swaggerType(pgType) !== "array") return undefined;
  return compact({ type: swaggerType(elementType(pgType)) ?? undefined });
}

/**
 * A column default as a JSON value, as PostgREST's `parseDefault` reads it:
 * for string types the literal without its cast and quotes, otherwise the
 * expression itself when it is JSON (`42`, `false`); undefined when it is
 * not (`nextval(...)`, `now()` on a number).
 */
export function parseDefault(
  pgType: string,
  expr: string,
): Json | undefined {
  let text = expr;
  if (swaggerType(pgType) === "string") {
    const suffix = `::${pgType}`;
    if (text.endsWith(suffix)) {
      text = text.slice(0, -suffix.length).replace(/^'+/, "").replace(
        /'+$/,
        "",
      );
    }
    text = `"${text}"`;
  }
  try {
    return JSON.parse(text) as Json;
  } catch {
    return undefined;
  }
}

/** Splits a comment into its first line and the rest (leading newlines cut). */
export function splitComment(
  text: string | null,
): { summary: string; description: string } | null {
  if (text === null) return null;
  const i = text.indexOf("\n");
  if (i < 0) return { summary: text, description: "" };
  return {
    summary: text.slice(0, i),
    description: text.slice(i).replace(/^\n+/, ""),
  };
}

/** The single-column foreign key of `col`, preferring targets that are tables. */
function foreignKeyOf(
  input: SwaggerInput,
  table: Table,
  col: Column,
): ForeignKey | undefined {
  const candidates = input.foreignKeys.filter((fk) =>
    fk.schema === table.schema && fk.table === table.name &&
    fk.refSchema === table.schema && fk.columns.length === 1 &&
    fk.columns[0] === col.name
  );
  return candidates.find((fk) => !input.isView(fk.refSchema, fk.refTable)) ??
    candidates[0];
}

function columnProperty(
  input: SwaggerInput,
  table: Table,
  col: Column,
): JsonObject {
  const pgType = col.dataType ?? col.type;
  const notes = ["Note:"];
  if (table.primaryKey.includes(col.name)) {
    notes.push("This is a Primary Key.<pk/>");
  }
  const fk = foreignKeyOf(input, table, col);
  const fkColumn = fk?.refColumns[0];
  if (fk !== undefined && fkColumn !== undefined) {
    notes.push(
      `This is a Foreign Key to \`${fk.refTable}.${fkColumn}\`.<fk table='${fk.refTable}' column='${fkColumn}'/>`,
    );
  }
  const description = notes.length > 1
    ? `${col.description === null ? "" : `${col.description}\n\n`}${
      notes.join("\n")
    }`
    : col.description ?? undefined;
  return compact({
    default: col.defaultValue === null
      ? undefined
      : parseDefault(pgType, col.defaultValue),
    description,
    enum: col.enumValues.length > 0 ? [...col.enumValues] : undefined,
    format: swaggerFormat(pgType),
    maxLength: col.maxLength ?? undefined,
    type: swaggerType(pgType) ?? undefined,
    items: schemaItems(pgType),
  });
}

function tableDefinition(input: SwaggerInput, t: Table): JsonObject {
  const properties: Record<string, Json> = {};
  for (const c of t.columns) properties[c.name] = columnProperty(input, t, c);
  const required = t.columns.filter((c) => !c.nullable).map((c) => c.name);
  return compact({
    description: t.description ?? undefined,
    type: "object",
    properties,
    required: required.length > 0 ? required : undefined,
  });
}

function ref(kind: "parameters" | "definitions", name: string): JsonObject {
  return { $ref: pointerRef([kind, name]) };
}

function tablePathItem(t: Table): JsonObject {
  const text = splitComment(t.description);
  const base = {
    tags: [t.name],
    summary: text?.summary,
    description: text === null || text.description === ""
      ? undefined
      : text.description,
  };
  const rowFilters = t.columns.map((c) =>
    ref("parameters", `rowFilter.${t.name}.${c.name}`)
  );
  const refs = (names: readonly string[]) =>
    names.map((n) => ref("parameters", n));
  const get = compact({
    ...base,
    parameters: [
      ...rowFilters,
      ...refs([
        "select",
        "order",
        "range",
        "rangeUnit",
        "offset",
        "limit",
        "preferCount",
      ]),
    ],
    responses: {
      "200": {
        description: "OK",
        schema: { type: "array", items: ref("definitions", t.name) },
      },
      "206": { description: "Partial Content" },
    },
  });
  if (!(t.insertable || t.updatable || t.deletable)) return { get };
  const body = `body.${t.name}`;
  return {
    get,
    post: compact({
      ...base,
      parameters: refs([body, "select", "preferPost"]),
      responses: { "201": { description: "Created" } },
    }),
    delete: compact({
      ...base,
      parameters: [...rowFilters, ...refs(["preferReturn"])],
      responses: { "204": { description: "No Content" } },
    }),
    patch: compact({
      ...base,
      parameters: [...rowFilters, ...refs([body, "preferReturn"])],
      responses: { "204": { description: "No Content" } },
    }),
  };
}

/** `"a""b"` for `a"b`, bare for plain lower-case names (as `quote_ident`). */
function quoteIdent(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name)
    ? name
    : `"${name.replaceAll('"', '""')}"`;
}

/**
 * The arguments of `r` with types of its own schema unqualified, as
 * PostgREST lists them (`enum_menagerie_type`, not `test.enum_menagerie_type`).
 */
function routineParams(r: Routine): readonly RoutineParam[] {
  const prefix = `${quoteIdent(r.schema)}.`;
  return r.params.map((p) =>
    p.type.startsWith(prefix) ? { ...p, type: p.type.slice(prefix.length) } : p
  );
}

/** A function argument as a query parameter (GET). */
function routineQueryParam(p: RoutineParam): JsonObject {
  if (p.variadic) {
    const element = elementType(p.type);
    return compact({
      in: "query",
      name: p.name,
      required: p.required,
      type: swaggerType(p.type) ?? "string",
      items: compact({
        type: swaggerType(element) ?? undefined,
        format: swaggerFormat(element),
      }),
      collectionFormat: "multi",
    });
  }
  const t = swaggerType(p.type);
  return {
    format: swaggerFormat(p.type),
    in: "query",
    name: p.name,
    required: p.required,
    // arrays are written {a,b} in a query string; json is any text
    type: t === null || t === "array" ? "string" : t,
  };
}

/** The POST body schema of a function: its arguments. */
function routineBodySchema(r: Routine): JsonObject {
  const params = routineParams(r);
  const properties: Record<string, Json> = {};
  for (const p of params) {
    properties[p.name] = compact({
      format: swaggerFormat(p.type),
      type: swaggerType(p.type) ?? undefined,
      items: schemaItems(p.type),
    });
  }
  const required = params.filter((p) => p.required).map((p) => p.name);
  return compact({
    required: required.length > 0 ? required : undefined,
    properties,
    type: "object",
    description: r.description ?? undefined,
  });
}

function routinePathItem(r: Routine): JsonObject {
  const text = splitComment(r.description);
  const base = {
    summary: text?.summary,
    description: text === null || text.description === ""
      ? undefined
      : text.description,
    tags: [`(rpc) ${r.name}`],
    produces: [JSON_MIME, SINGULAR_STRIPPED, SINGULAR],
    responses: { "200": { description: "OK" } },
  };
  const post = compact({
    ...base,
    parameters: [
      {
        in: "body",
        name: "args",
        required: true,
        schema: routineBodySchema(r),
      },
      ref("parameters", "preferParams"),
    ],
  });
  if (r.volatility === "v") return { post };
  return {
    get: compact({
      ...base,
      parameters: routineParams(r).map(routineQueryParam),
    }),
    post,
  };
}

const ROOT_PATH: JsonObject = {
  get: {
    tags: ["Introspection"],
    summary: "OpenAPI description (this document)",
    produces: ["application/openapi+json", JSON_MIME],
    responses: { "200": { description: "OK" } },
  },
};

function preferParam(values: readonly string[]): JsonObject {
  return compact({
    name: "Prefer",
    description: "Preference",
    required: false,
    in: "header",
    type: "string",
    enum: values.length > 0 ? [...values] : undefined,
  });
}

function stringParam(
  name: string,
  description: string,
  where: "query" | "header",
): JsonObject {
  return { name, description, required: false, in: where, type: "string" };
}

const RETURN_PREFS = [
  "return=representation",
  "return=minimal",
  "return=none",
];

function parameterDefinitions(tables: readonly Table[]): JsonObject {
  const out: Record<string, Json> = {
    preferParams: preferParam([]),
    preferReturn: preferParam(RETURN_PREFS),
    preferCount: preferParam(["count=none"]),
    preferPost: preferParam([
      ...RETURN_PREFS,
      "resolution=ignore-duplicates",
      "resolution=merge-duplicates",
    ]),
    select: stringParam("select", "Filtering Columns", "query"),
    on_conflict: stringParam("on_conflict", "On Conflict", "query"),
    order: stringParam("order", "Ordering", "query"),
    range: stringParam("Range", "Limiting and Pagination", "header"),
    rangeUnit: {
      ...stringParam("Range-Unit", "Limiting and Pagination", "header"),
      default: "items",
    },
    offset: stringParam("offset", "Limiting and Pagination", "query"),
    limit: stringParam("limit", "Limiting and Pagination", "query"),
  };
  for (const t of tables) {
    out[`body.${t.name}`] = {
      name: t.name,
      description: t.name,
      required: false,
      in: "body",
      schema: ref("definitions", t.name),
    };
    for (const c of t.columns) {
      out[`rowFilter.${t.name}.${c.name}`] = compact({
        name: c.name,
        description: c.description ?? undefined,
        required: false,
        in: "query",
        type: "string",
      });
    }
  }
  return out;
}

/** Builds the Swagger 2.0 document. */
export function buildSwagger(input: SwaggerInput): SwaggerDocument {
  const text = splitComment(input.description);
  const paths: Record<string, Json> = { "/": ROOT_PATH };
  for (const t of input.tables) paths[`/${t.name}`] = tablePathItem(t);
  for (const r of input.routines) paths[`/rpc/${r.name}`] = routinePathItem(r);
  const definitions: Record<string, Json> = {};
  for (const t of input.tables) definitions[t.name] = tableDefinition(input, t);
  const mimes = [JSON_MIME, SINGULAR_STRIPPED, SINGULAR, "text/csv"];
  const { server } = input;
  const security = input.securityActive
    ? {
      security: [{ JWT: [] }],
      securityDefinitions: {
        JWT: {
          type: "apiKey",
          in: "header",
          name: "Authorization",
          description:
            'Add the token prepending "Bearer " (without quotes) to it',
        },
      },
    }
    : {};
  return {
    swagger: "2.0",
    info: {
      description: text?.description ??
        "This is a dynamic API generated by PostgREST",
      title: text?.summary ?? "PostgREST API",
      version: input.version,
    },
    externalDocs: {
      description: "PostgREST Documentation",
      url: `https://postgrest.org/en/${input.docsVersion}/references/api.html`,
    },
    host: `${server.host}:${server.port}`,
    basePath: server.basePath,
    schemes: [server.scheme],
    consumes: mimes,
    produces: mimes,
    paths,
    definitions,
    parameters: parameterDefinitions(input.tables),
    ...security,
  };
}
