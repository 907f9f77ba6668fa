/**
 * Owns where the OpenAPI document says the API is served: the
 * `openapi-server-proxy-uri` when it is a valid http(s) URI (scheme, host,
 * port — 80/443 when not given — and path), otherwise `http://` the server's
 * host and port at `/`, as PostgREST's `proxyUri` does.
 *
 * Pure.
 *
 * @module
 */

import type { ServerLocation } from "./swagger.ts";

/** The proxy URI's parts, or null when it is not a valid http(s) URI. */
export function parseProxyUri(uri: string): ServerLocation | null {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return null;
  }
  const scheme = url.protocol.toLowerCase();
  if (scheme !== "http:" && scheme !== "https:") return null;
  if (url.hostname === "" || url.search !== "" || url.username !== "") {
    return null;
  }
  const https = scheme === "https:";
  return {
    scheme: https ? "https" : "http",
    host: url.hostname,
    port: url.port === "" ? (https ? 443 : 80) : Number(url.port),
    basePath: url.pathname === "" ? "/" : url.pathname,
  };
}

/** PostgREST's `escapeHostName`: wildcard listen addresses become 0.0.0.0. */
function escapeHostName(host: string): string {
  return ["*", "*4", "!4", "*6", "!6"].includes(host) ? "0.0.0.0" : host;
}

/** Where the document says the API is served. */
export function serverLocation(config: {
  readonly openapiServerProxyUri: string | null;
  readonly serverHost: string;
  readonly serverPort: number;
}): ServerLocation {
  const proxy = config.openapiServerProxyUri === null
    ? null
    : parseProxyUri(config.openapiServerProxyUri);
  return proxy ?? {
    scheme: "http",
    host: escapeHostName(config.serverHost),
    port: config.serverPort,
    basePath: "/",
  };
}
