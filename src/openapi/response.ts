/**
 * Owns the response to `GET /` and `HEAD /`: the document (Swagger 2.0, or
 * OpenAPI 3.1 when negotiated) of the tables and functions the access
 * query allows, with its Content-Type and, when several schemas are
 * exposed, Content-Profile. HEAD gets the headers only.
 *
 * Pure.
 *
 * @module
 */

import type { Config } from "../config/types.ts";
import type { ApiResponse } from "../response/response.ts";
import { findTable, type SchemaCache } from "../schema_cache/types.ts";
import { type Access, visibleObjects } from "./access.ts";
import type { JsonObject } from "./json.ts";
import { serverLocation } from "./location.ts";
import { toOpenApi31 } from "./openapi31.ts";
import type { OpenApiPlan } from "./plan.ts";
import { buildSwagger } from "./swagger.ts";

/** `info.version` of the generated document: pgrest's version. */
export const API_VERSION = "0.1.0";

/** The PostgREST documentation version `externalDocs` points to. */
export const DOCS_VERSION = "latest";

/** Builds the document for `plan` from the cache and the access row. */
export function openApiDocument(
  plan: Pick<OpenApiPlan, "schema" | "version">,
  ctx: {
    readonly config: Pick<
      Config,
      | "openapiServerProxyUri"
      | "serverHost"
      | "serverPort"
      | "openapiSecurityActive"
    >;
    readonly cache: SchemaCache;
    readonly access: Access;
  },
): JsonObject {
  const { config, cache, access } = ctx;
  const { tables, routines } = visibleObjects(cache, plan.schema, access);
  const doc = buildSwagger({
    description: access.description,
    tables,
    routines,
    foreignKeys: cache.foreignKeys,
    isView: (schema, name) => findTable(cache, schema, name)?.isView ?? false,
    server: serverLocation(config),
    securityActive: config.openapiSecurityActive,
    version: API_VERSION,
    docsVersion: DOCS_VERSION,
  });
  return plan.version === "3.1" ? toOpenApi31(doc) : doc;
}

/** The HTTP response of an OpenAPI plan. */
export function openApiResponse(
  req: { readonly profileGiven: boolean },
  plan: OpenApiPlan,
  ctx: Parameters<typeof openApiDocument>[1],
): ApiResponse {
  const headers: [string, string][] = [["Content-Type", plan.contentType]];
  if (req.profileGiven) headers.push(["Content-Profile", plan.schema]);
  const body = plan.headOnly
    ? null
    : JSON.stringify(openApiDocument(plan, ctx));
  return { status: 200, headers, body };
}
