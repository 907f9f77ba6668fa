import assert from "node:assert/strict";
import { openApiResponse } from "./response.ts";
import type { OpenApiPlan } from "./plan.ts";
import { CACHE } from "./testdata/cache.ts";

const PLAN: OpenApiPlan = {
  kind: "openapi",
  schema: "api",
  followPrivileges: true,
  version: "2.0",
  contentType: "application/openapi+json; charset=utf-8",
  headOnly: false,
};

const CTX = {
  config: {
    openapiServerProxyUri: null,
    serverHost: "127.0.0.1",
    serverPort: 3000,
    openapiSecurityActive: false,
  },
  cache: CACHE,
  access: {
    description: null,
    tables: new Set(["orders"]),
    routines: new Set<number>(),
  },
};

Deno.test("openApiResponse() returns the visible objects only", () => {
  const res = openApiResponse({ profileGiven: false }, PLAN, CTX);
  assert.equal(res.status, 200);
  assert.deepEqual(res.headers, [[
    "Content-Type",
    "application/openapi+json; charset=utf-8",
  ]]);
  const doc = JSON.parse(typeof res.body === "string" ? res.body : "null");
  assert.deepEqual(Object.keys(doc.paths), ["/", "/orders"]);
  assert.deepEqual(Object.keys(doc.definitions), ["orders"]);
  assert.equal(doc.host, "127.0.0.1:3000");
  assert.equal(doc.info.title, "PostgREST API");
});

Deno.test("openApiResponse() sends headers only for HEAD, with the profile", () => {
  const res = openApiResponse({ profileGiven: true }, {
    ...PLAN,
    headOnly: true,
  }, CTX);
  assert.equal(res.body, null);
  assert.deepEqual(res.headers, [
    ["Content-Type", "application/openapi+json; charset=utf-8"],
    ["Content-Profile", "api"],
  ]);
});

Deno.test("openApiResponse() writes OpenAPI 3.1 when negotiated", () => {
  const res = openApiResponse({ profileGiven: false }, {
    ...PLAN,
    version: "3.1",
  }, CTX);
  const doc = JSON.parse(typeof res.body === "string" ? res.body : "null");
  assert.equal(doc.openapi, "3.1.0");
  assert.deepEqual(doc.servers, [{ url: "http://127.0.0.1:3000/" }]);
});
