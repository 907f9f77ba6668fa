/**
 * Owns planning `GET /` and `HEAD /`: the method check, content negotiation
 * (`application/openapi+json`, `application/json` or `*\/*`; with
 * `version=3.1` the OpenAPI 3.1 document), `openapi-mode = disabled`
 * (PGRST126) and `db-root-spec` (the named function answers instead).
 *
 * Pure.
 *
 * @module
 */

import { mediaTypeBase } from "../api_request/media_type.ts";
import type { ApiRequest } from "../api_request/types.ts";
import type { Config } from "../config/types.ts";
import { mediaTypeError, PgrstError, unsupportedMethod } from "../error.ts";

/** The OpenAPI versions pgrest writes. */
export type OpenApiVersion = "2.0" | "3.1";

/** A request for the generated OpenAPI document. */
export interface OpenApiPlan {
  readonly kind: "openapi";
  /** The schema described (from Accept-Profile). */
  readonly schema: string;
  /** Ask the database which tables and functions the role may use. */
  readonly followPrivileges: boolean;
  readonly version: OpenApiVersion;
  readonly contentType: string;
  readonly headOnly: boolean;
}

/** `db-root-spec`: this function's result is the answer. */
export interface RootSpecPlan {
  readonly kind: "rootSpec";
  readonly routine: string;
  readonly contentType: string;
}

const OPENAPI = "application/openapi+json";
const OPENAPI_CT = "application/openapi+json; charset=utf-8";
const JSON_CT = "application/json; charset=utf-8";

function mediaParams(mt: string): { base: string; version: string | null } {
  const params = mt.split(";").slice(1).map((s) => s.trim());
  let version: string | null = null;
  for (const p of params) {
    const i = p.indexOf("=");
    if (i > 0 && p.slice(0, i).trim().toLowerCase() === "version") {
      version = p.slice(i + 1).trim().replace(/^"(.*)"$/, "$1");
    }
  }
  return { base: mediaTypeBase(mt), version };
}

/** The negotiated document: which version, under which Content-Type. */
export interface RootMedia {
  readonly version: OpenApiVersion;
  readonly contentType: string;
}

/**
 * Picks the first acceptable media type for `/`: `application/openapi+json`
 * (no version or `version=2.0`: Swagger 2.0; `version=3.1[.x]`: OpenAPI
 * 3.1; other versions are not produced), `application/json` or `*\/*`.
 * With `rootSpec`, `application/json` keeps its own Content-Type.
 * @throws {PgrstError} PGRST107
 */
export function negotiateRoot(
  accept: readonly string[],
  opts: { readonly rootSpec: boolean },
): RootMedia {
  for (const mt of accept) {
    const { base, version } = mediaParams(mt);
    switch (base) {
      case OPENAPI:
        if (version === null || version === "2.0") {
          return { version: "2.0", contentType: OPENAPI_CT };
        }
        if (/^3\.1(\.\d+)?$/.test(version) && !opts.rootSpec) {
          return {
            version: "3.1",
            contentType: `${OPENAPI}; version=3.1; charset=utf-8`,
          };
        }
        break;
      case "application/json":
        return {
          version: "2.0",
          contentType: opts.rootSpec ? JSON_CT : OPENAPI_CT,
        };
      case "*/*":
        return { version: "2.0", contentType: OPENAPI_CT };
    }
  }
  throw mediaTypeError(accept);
}

/** PGRST126: `openapi-mode = disabled`. */
export function openApiDisabled(): PgrstError {
  return new PgrstError(
    404,
    "PGRST126",
    "Root endpoint metadata is disabled",
  );
}

/**
 * Plans a GET or HEAD of `/`.
 * @throws {PgrstError} PGRST107, PGRST117, PGRST126
 */
export function planRoot(
  req: Pick<ApiRequest, "method" | "accept" | "schema">,
  config: Pick<Config, "dbRootSpec" | "openapiMode">,
): OpenApiPlan | RootSpecPlan {
  if (req.method !== "GET" && req.method !== "HEAD") {
    throw unsupportedMethod(req.method);
  }
  const rootSpec = config.dbRootSpec;
  const media = negotiateRoot(req.accept, { rootSpec: rootSpec !== null });
  if (rootSpec !== null) {
    return {
      kind: "rootSpec",
      routine: rootSpec,
      contentType: media.contentType,
    };
  }
  if (config.openapiMode === "disabled") throw openApiDisabled();
  return {
    kind: "openapi",
    schema: req.schema,
    followPrivileges: config.openapiMode === "follow-privileges",
    version: media.version,
    contentType: media.contentType,
    headOnly: req.method === "HEAD",
  };
}
