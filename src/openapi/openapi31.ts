/**
 * Owns the OpenAPI 3.1 form of the root document (`Accept:
 * application/openapi+json;version=3.1`), converted from the Swagger 2.0
 * document: `servers` from host/basePath/schemes, `components.schemas` from
 * `definitions`, `components.parameters` and `components.requestBodies`
 * from `parameters`, `requestBody` instead of body parameters, response
 * `content` per produced media type, `components.securitySchemes`.
 *
 * Component names keep `[A-Za-z0-9._]` and escape every other byte as `-XX`
 * (OpenAPI 3.1 allows only `^[a-zA-Z0-9._-]+$` there); `$ref`s follow.
 *
 * Pure.
 *
 * @module
 */

import {
  compact,
  isJsonObject,
  type Json,
  type JsonObject,
  parsePointerRef,
  type PartialJsonObject,
  pointerRef,
} from "./json.ts";
import type { SwaggerDocument } from "./swagger.ts";

/** The OpenAPI 3.1 document. */
export interface OpenApi31Document extends JsonObject {
  readonly openapi: string;
  readonly info: JsonObject;
  readonly paths: JsonObject;
  readonly components: JsonObject;
}

const encoder = new TextEncoder();

/** The request body name of the 2.0 body parameter `body.<table>`. */
function bodyKey(parameter: string): string {
  return componentKey(
    parameter.startsWith("body.") ? parameter.slice(5) : parameter,
  );
}

/** The member a 2.0 `$ref` points to: `definitions` or `parameters`, name. */
function refTarget(
  ref: string,
): { kind: "definitions" | "parameters"; name: string } | null {
  const path = parsePointerRef(ref);
  if (path === null || path.length !== 2) return null;
  const [kind, name] = path;
  if (name === undefined) return null;
  return kind === "definitions" || kind === "parameters"
    ? { kind, name }
    : null;
}

/**
 * A component name for `name`: letters, digits, `.` and `_` kept, every
 * other UTF-8 byte (`-` included) written `-XX`, so distinct names stay
 * distinct.
 */
export function componentKey(name: string): string {
  let out = "";
  for (const ch of name) {
    if (/^[A-Za-z0-9._]$/.test(ch)) {
      out += ch;
      continue;
    }
    for (const b of encoder.encode(ch)) {
      out += `-${b.toString(16).toUpperCase().padStart(2, "0")}`;
    }
  }
  return out === "" ? "-" : out;
}

function strings(v: Json | undefined): readonly string[] {
  return Array.isArray(v)
    ? v.filter((x): x is string => typeof x === "string")
    : [];
}

function obj(v: Json | undefined): JsonObject {
  return isJsonObject(v) ? v : {};
}

/** A 2.0 schema as a 3.1 (JSON Schema 2020-12) schema. */
function convertSchema(s: Json): Json {
  if (Array.isArray(s)) return s.map(convertSchema);
  if (!isJsonObject(s)) return s;
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(s)) {
    const target = k === "$ref" && typeof v === "string" ? refTarget(v) : null;
    if (target !== null && target.kind === "definitions") {
      out[k] = pointerRef(["components", "schemas", componentKey(target.name)]);
    } else if (k === "properties" && isJsonObject(v)) {
      const props: Record<string, Json> = {};
      for (const [name, p] of Object.entries(v)) props[name] = convertSchema(p);
      out[k] = props;
    } else if (k === "items") {
      out[k] = convertSchema(v);
    } else {
      out[k] = v;
    }
  }
  return out;
}

/** A non-body 2.0 parameter as a 3.1 parameter with a schema. */
function convertParameter(p: JsonObject): JsonObject {
  const { name, in: where, description, required, collectionFormat } = p;
  const schema = compact({
    type: p["type"],
    format: p["format"],
    items: p["items"] === undefined ? undefined : convertSchema(p["items"]),
    enum: p["enum"],
    default: p["default"],
  });
  const multi = collectionFormat === "multi";
  return compact({
    name,
    in: where,
    description,
    required,
    schema,
    style: multi ? "form" : undefined,
    explode: multi ? true : undefined,
  });
}

function content(mimes: readonly string[], schema: Json): JsonObject {
  const out: Record<string, Json> = {};
  for (const m of mimes) out[m] = { schema: convertSchema(schema) };
  return out;
}

/** A 2.0 body parameter as a 3.1 request body. */
function convertBody(p: JsonObject, mimes: readonly string[]): JsonObject {
  return compact({
    description: p["description"],
    required: p["required"] === true ? true : undefined,
    content: content(mimes, p["schema"] ?? {}),
  });
}

interface Context {
  readonly parameters: JsonObject;
  readonly consumes: readonly string[];
  readonly produces: readonly string[];
}

function convertOperation(op: JsonObject, ctx: Context): JsonObject {
  const produces = op["produces"] === undefined
    ? ctx.produces
    : strings(op["produces"]);
  const parameters: Json[] = [];
  let requestBody: Json | undefined;
  for (const p of Array.isArray(op["parameters"]) ? op["parameters"] : []) {
    if (!isJsonObject(p)) continue;
    const r = p["$ref"];
    const target = typeof r === "string" ? refTarget(r) : null;
    if (target !== null && target.kind === "parameters") {
      const key = componentKey(target.name);
      if (obj(ctx.parameters[target.name])["in"] === "body") {
        requestBody = {
          $ref: pointerRef([
            "components",
            "requestBodies",
            bodyKey(target.name),
          ]),
        };
      } else {
        parameters.push({
          $ref: pointerRef(["components", "parameters", key]),
        });
      }
    } else if (p["in"] === "body") {
      requestBody = convertBody(p, ctx.consumes);
    } else {
      parameters.push(convertParameter(p));
    }
  }
  const responses: Record<string, Json> = {};
  for (const [code, r] of Object.entries(obj(op["responses"]))) {
    const res = obj(r);
    responses[code] = compact({
      description: res["description"] ?? "",
      content: res["schema"] === undefined
        ? undefined
        : content(produces, res["schema"]),
    });
  }
  return compact({
    tags: op["tags"],
    summary: op["summary"],
    description: op["description"],
    parameters: parameters.length > 0 ? parameters : undefined,
    requestBody,
    responses,
  });
}

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch"];

/** Converts the Swagger 2.0 document to OpenAPI 3.1. */
export function toOpenApi31(doc: SwaggerDocument): OpenApi31Document {
  const ctx: Context = {
    parameters: doc.parameters,
    consumes: strings(doc["consumes"]),
    produces: strings(doc["produces"]),
  };
  const paths: Record<string, Json> = {};
  for (const [path, item] of Object.entries(doc.paths)) {
    const converted: Record<string, Json> = {};
    for (const [method, op] of Object.entries(obj(item))) {
      if (METHODS.includes(method) && isJsonObject(op)) {
        converted[method] = convertOperation(op, ctx);
      }
    }
    paths[path] = converted;
  }
  const schemas: Record<string, Json> = {};
  for (const [name, s] of Object.entries(doc.definitions)) {
    schemas[componentKey(name)] = convertSchema(s);
  }
  const parameters: Record<string, Json> = {};
  const requestBodies: Record<string, Json> = {};
  for (const [name, p] of Object.entries(doc.parameters)) {
    if (!isJsonObject(p)) continue;
    if (p["in"] === "body") {
      requestBodies[bodyKey(name)] = convertBody(p, ctx.consumes);
    } else {
      parameters[componentKey(name)] = convertParameter(p);
    }
  }
  const security = obj(doc["securityDefinitions"]);
  const hasSecurity = Object.keys(security).length > 0;
  const host = doc["host"];
  const basePath = doc["basePath"];
  const scheme = strings(doc["schemes"])[0] ?? "http";
  const components: PartialJsonObject = {
    schemas,
    parameters,
    requestBodies,
    securitySchemes: hasSecurity ? security : undefined,
  };
  return {
    openapi: "3.1.0",
    info: doc.info,
    ...compact({
      externalDocs: doc["externalDocs"],
      servers: typeof host === "string"
        ? [{
          url: `${scheme}://${host}${
            typeof basePath === "string" ? basePath : "/"
          }`,
        }]
        : undefined,
    }),
    paths,
    components: compact(components),
    ...compact({ security: hasSecurity ? doc["security"] : undefined }),
  };
}
