import assert from "node:assert/strict";
import { Validator } from "@seriousme/openapi-schema-validator";
import { type Json, type JsonObject, parsePointerRef } from "./json.ts";
import { componentKey, toOpenApi31 } from "./openapi31.ts";
import { openApiDocument } from "./response.ts";
import { API_COMMENT, CACHE } from "./testdata/cache.ts";
import type { SwaggerDocument } from "./swagger.ts";

const CONFIG = {
  openapiServerProxyUri: "https://api.example.com/v1",
  serverHost: "!4",
  serverPort: 3000,
  openapiSecurityActive: true,
};

function doc31(securityActive = true): JsonObject {
  return openApiDocument({ schema: "api", version: "3.1" }, {
    config: { ...CONFIG, openapiSecurityActive: securityActive },
    cache: CACHE,
    access: { description: API_COMMENT, tables: null, routines: null },
  });
}

function at(doc: Json, ...path: (string | number)[]): Json | undefined {
  let cur: Json | undefined = doc;
  for (const k of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = Array.isArray(cur)
      ? (cur as readonly Json[])[Number(k)]
      : (cur as JsonObject)[String(k)];
  }
  return cur;
}

function refs(v: Json, out: string[] = []): string[] {
  if (Array.isArray(v)) { for (const x of v) refs(x, out); }
  else if (v !== null && typeof v === "object") {
    for (const [k, x] of Object.entries(v)) {
      if (k === "$ref" && typeof x === "string") out.push(x);
      else refs(x, out);
    }
  }
  return out;
}

Deno.test("componentKey() keeps safe names and escapes the rest", () => {
  assert.equal(componentKey("rowFilter.items.id"), "rowFilter.items.id");
  assert.equal(componentKey("a-b"), "a-2Db");
  assert.equal(componentKey("a b/c"), "a-20b-2Fc");
  assert.equal(componentKey("ü"), "-C3-BC");
  assert.equal(componentKey(""), "-");
  assert.notEqual(componentKey("a-20"), componentKey("a "));
});

Deno.test("toOpenApi31() writes servers, components and security", () => {
  const doc = doc31();
  assert.equal(doc["openapi"], "3.1.0");
  assert.equal(at(doc, "info", "title"), "Shop API");
  assert.deepEqual(doc["servers"], [{
    url: "https://api.example.com:443/v1",
  }]);
  assert.deepEqual(at(doc, "components", "schemas", "orders", "required"), [
    "id",
  ]);
  assert.deepEqual(
    at(doc, "components", "parameters", "select"),
    {
      name: "select",
      in: "query",
      description: "Filtering Columns",
      required: false,
      schema: { type: "string" },
    },
  );
  assert.deepEqual(
    at(doc, "components", "requestBodies", "orders", "content", "text/csv"),
    { schema: { $ref: "#/components/schemas/orders" } },
  );
  assert.equal(
    at(doc, "components", "securitySchemes", "JWT", "type"),
    "apiKey",
  );
  assert.deepEqual(doc["security"], [{ JWT: [] }]);
  assert.equal(doc["definitions"], undefined);
  assert.equal(doc["swagger"], undefined);
  const plain = doc31(false);
  assert.equal(plain["security"], undefined);
  assert.equal(at(plain, "components", "securitySchemes"), undefined);
});

Deno.test("toOpenApi31() turns body parameters into request bodies", () => {
  const doc = doc31();
  assert.deepEqual(at(doc, "paths", "/orders", "post"), {
    tags: ["orders"],
    summary: "Orders",
    parameters: [
      { $ref: "#/components/parameters/select" },
      { $ref: "#/components/parameters/preferPost" },
    ],
    requestBody: { $ref: "#/components/requestBodies/orders" },
    responses: { "201": { description: "Created" } },
  });
  const rpc = at(doc, "paths", "/rpc/add", "post");
  assert.deepEqual(at(rpc ?? {}, "requestBody", "required"), true);
  assert.deepEqual(
    at(
      rpc ?? {},
      "requestBody",
      "content",
      "application/json",
      "schema",
      "required",
    ),
    ["a"],
  );
  assert.deepEqual(at(rpc ?? {}, "responses"), {
    "200": { description: "OK" },
  });
  assert.deepEqual(at(doc, "paths", "/rpc/add", "get", "parameters", 0), {
    name: "a",
    in: "query",
    required: true,
    schema: { type: "integer", format: "int32" },
  });
  assert.deepEqual(at(doc, "paths", "/rpc/sum_all", "get", "parameters", 0), {
    name: "vals",
    in: "query",
    required: true,
    schema: {
      type: "array",
      items: { type: "integer", format: "int32" },
    },
    style: "form",
    explode: true,
  });
});

Deno.test("toOpenApi31() gives responses content per produced type", () => {
  const doc = doc31();
  assert.deepEqual(
    Object.keys(
      at(doc, "paths", "/items", "get", "responses", "200", "content") ?? {},
    ),
    [
      "application/json",
      "application/vnd.pgrst.object+json;nulls=stripped",
      "application/vnd.pgrst.object+json",
      "text/csv",
    ],
  );
  assert.deepEqual(
    at(
      doc,
      "paths",
      "/items",
      "get",
      "responses",
      "200",
      "content",
      "application/json",
      "schema",
    ),
    { type: "array", items: { $ref: "#/components/schemas/items" } },
  );
});

Deno.test("toOpenApi31() refs all resolve, hostile names included", () => {
  const doc = doc31();
  const all = refs(doc);
  assert.ok(all.length > 50);
  for (const r of all) {
    const path = parsePointerRef(r);
    assert.ok(path !== null, r);
    assert.notEqual(at(doc, ...path), undefined, r);
  }
  const key = componentKey('we"ird /~name');
  assert.notEqual(at(doc, "components", "schemas", key), undefined);
  assert.match(key, /^[A-Za-z0-9._-]+$/);
});

Deno.test("toOpenApi31() output passes the OpenAPI 3.1 schema validator", async () => {
  for (const doc of [doc31(), doc31(false)]) {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc));
    assert.deepEqual(result, { valid: true });
    assert.equal(validator.version, "3.1");
  }
});

Deno.test("toOpenApi31() converts a minimal document", () => {
  const minimal: SwaggerDocument = {
    swagger: "2.0",
    info: { title: "t", version: "1" },
    paths: {},
    definitions: {},
    parameters: {},
  };
  assert.deepEqual(toOpenApi31(minimal), {
    openapi: "3.1.0",
    info: { title: "t", version: "1" },
    paths: {},
    components: { schemas: {}, parameters: {}, requestBodies: {} },
  });
});
