/**
 * Owns the safety of response headers whose names or values come from SQL
 * (`response.headers`, `RAISE SQLSTATE 'PGRST'` details): names must be
 * HTTP tokens, values must hold no control character (CR and LF would split
 * the response, and Deno 2.9's HTTP server aborts the whole process on any
 * other control character in a header value), text beyond Latin-1 is sent
 * as its UTF-8 bytes (as PostgREST sends it), and the framing and
 * hop-by-hop headers stay the server's.
 *
 * Pure.
 *
 * @module
 */

/** An HTTP field name (RFC 9110 token). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Control characters other than horizontal tab (and DEL). */
// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;
/** Anything that is not a Latin-1 character (a JS "ByteString"). */
// deno-lint-ignore no-control-regex
const BEYOND_LATIN1 = /[^\x00-\xff]/;

/**
 * Headers SQL may not set: the server frames the body itself
 * (Content-Length, Transfer-Encoding) and owns the connection (hop-by-hop
 * headers).
 */
const RESERVED: ReadonlySet<string> = new Set([
  "content-length",
  "transfer-encoding",
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "upgrade",
]);

/** Whether `name` is a valid HTTP header name. */
export function isHeaderName(name: string): boolean {
  return TOKEN.test(name);
}

/** Whether `value` is safe to send as a header value (before encoding). */
export function isHeaderValue(value: string): boolean {
  return !CONTROL.test(value);
}

/** Whether SQL may set this header (false for framing and hop-by-hop). */
export function isSettableHeader(name: string): boolean {
  return !RESERVED.has(name.toLowerCase());
}

/**
 * A header value as a ByteString: Latin-1 text unchanged, anything beyond
 * as its UTF-8 bytes, one character per byte.
 */
export function headerValueBytes(value: string): string {
  if (!BEYOND_LATIN1.test(value)) return value;
  let out = "";
  for (const b of new TextEncoder().encode(value)) {
    out += String.fromCharCode(b);
  }
  return out;
}

/**
 * `text` as the quoted string of a header such as `Warning`, from names a
 * client chose: `"` and `\` escaped, control characters percent-encoded,
 * and the whole as a ByteString (UTF-8 bytes beyond Latin-1), so that it can
 * always be sent.
 */
export function quotedHeaderText(text: string): string {
  const escaped = text.replace(/[\\"]/g, "\\$&").replace(
    // deno-lint-ignore no-control-regex
    /[\x00-\x1f\x7f]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`,
  );
  return `"${headerValueBytes(escaped)}"`;
}

/**
 * A character that {@linkcode unsendableHeader} refuses: a control
 * character other than horizontal tab, or one beyond Latin-1 (the union of
 * `CONTROL` and `BEYOND_LATIN1`, in one test).
 */
const UNSENDABLE = /[^\t\x20-\x7e\x80-\xff]/;

/**
 * Marks a response whose every header value was checked before it was built
 * (a property of our own: cheaper than a WeakSet entry per response).
 */
const CHECKED: unique symbol = Symbol("pgrest.sendable");
type Marked = Response & { [CHECKED]?: true };

/**
 * Whether every value of a header list is sendable as it is: the fast path
 * for responses pgrest builds itself, one regular expression test per
 * value, without iterating a `Headers` object. False means "look closer"
 * ({@linkcode unsendableHeader} on the built response): `Headers` trims a
 * value's leading and trailing whitespace, line breaks included, so a value
 * refused here may still be sent.
 */
export function sendableValues(
  headers: readonly (readonly [string, string])[],
): boolean {
  // by index: destructuring would go through the iterator protocol
  for (let i = 0; i < headers.length; i++) {
    if (UNSENDABLE.test((headers[i] as readonly [string, string])[1])) {
      return false;
    }
  }
  return true;
}

/**
 * Marks a response built from a header list that
 * {@linkcode sendableValues} accepted, so that {@linkcode unsendableHeader}
 * need not read it again.
 */
export function markSendable(res: Response): Response {
  (res as Marked)[CHECKED] = true;
  return res;
}

/**
 * {@linkcode unsendableHeader} of a response's headers; null at once for a
 * response marked by {@linkcode markSendable}.
 */
export function unsendableResponseHeader(res: Response): string | null {
  return (res as Marked)[CHECKED] === true
    ? null
    : unsendableHeader(res.headers);
}

/**
 * The first header of a response that Deno could not send (an invalid name,
 * or a value with a control character or beyond Latin-1), or null.
 */
export function unsendableHeader(headers: Headers): string | null {
  let bad: string | null = null;
  headers.forEach((value, name) => {
    if (bad === null && (CONTROL.test(value) || BEYOND_LATIN1.test(value))) {
      bad = name;
    }
  });
  return bad;
}
