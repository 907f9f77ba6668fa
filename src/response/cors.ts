/**
 * Owns CORS: the `Access-Control-*` headers of a response, from the
 * request's Origin and preflight headers and `server-cors-allowed-origins`.
 * Without a configured list any origin is allowed (`*`, never with
 * credentials); with one, only listed origins are echoed (with
 * credentials), and others get no CORS header.
 *
 * Pure.
 *
 * @module
 */

const EXPOSE =
  "Content-Encoding, Content-Location, Content-Range, Content-Type, Date, Location, Server, Transfer-Encoding, Range-Unit";
const METHODS = "GET, POST, PATCH, PUT, DELETE, OPTIONS, HEAD";

/** CORS headers for a request (a subset of its headers is read). */
export function corsHeaders(
  method: string,
  headers: Pick<Headers, "get">,
  allowed: readonly string[] | null,
): [string, string][] {
  const origin = headers.get("origin");
  const preflight = method === "OPTIONS" &&
    headers.get("access-control-request-method") !== null;
  const out: [string, string][] = [];
  if (allowed === null) {
    if (origin === null && method !== "OPTIONS") return out;
    out.push(["Access-Control-Allow-Origin", "*"]);
  } else {
    if (origin === null || !allowed.includes(origin)) return out;
    out.push(["Access-Control-Allow-Origin", origin]);
    out.push(["Access-Control-Allow-Credentials", "true"]);
    out.push(["Vary", "Origin"]);
  }
  if (preflight) {
    out.push(["Access-Control-Allow-Methods", METHODS]);
    const requested = headers.get("access-control-request-headers");
    out.push([
      "Access-Control-Allow-Headers",
      requested === null || requested.trim() === ""
        ? "Authorization, Content-Type, Accept, Prefer, Range"
        : requested,
    ]);
    out.push(["Access-Control-Max-Age", "86400"]);
  } else {
    out.push(["Access-Control-Expose-Headers", EXPOSE]);
  }
  return out;
}
