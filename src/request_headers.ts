/**
 * Owns reading a request's header list once: iterating a `Headers` object
 * goes through Deno's WebIDL iterator (it sorts and copies the list), a few
 * µs per request, and the size check (`server-max-header-bytes`) and the
 * transaction's `request.headers`/`request.cookies` settings both need every
 * header. {@linkcode requestHeaders} reads them once per `Headers` object
 * and keeps the result while that object lives; its `get` then answers the
 * handler's many single-header lookups without scanning the list again.
 *
 * Pure (no I/O).
 *
 * @module
 */

/** What pgrest needs of all of a request's headers. */
export interface RequestHeaders extends Pick<Headers, "get"> {
  /**
   * The size of the header section as sent: each `name: value` line with
   * its CRLF (the request line excluded), as `limits.ts` `headerBytes`.
   */
  readonly bytes: number;
  /** Every header but `cookie`, by lower-case name (values combined). */
  readonly record: Readonly<Record<string, string>>;
  /** The `cookie` header, or null. */
  readonly cookie: string | null;
}

const seen = new WeakMap<Headers, RequestHeaders>();

/** The headers of a request, read once per `Headers` object. */
export function requestHeaders(headers: Headers): RequestHeaders {
  let r = seen.get(headers);
  if (r === undefined) {
    let bytes = 0;
    let cookie: string | null = null;
    const record: Record<string, string> = {};
    headers.forEach((v, k) => {
      bytes += k.length + v.length + 4;
      if (k === "cookie") cookie = v;
      else record[k] = v;
    });
    r = new ReadHeaders(bytes, record, cookie);
    seen.set(headers, r);
  }
  return r;
}

/**
 * The headers as read, with `get` as `Headers.get` answers for a valid
 * name (a property lookup instead of a scan of the header list).
 */
class ReadHeaders implements RequestHeaders {
  readonly bytes: number;
  readonly record: Readonly<Record<string, string>>;
  readonly cookie: string | null;
  constructor(
    bytes: number,
    record: Readonly<Record<string, string>>,
    cookie: string | null,
  ) {
    this.bytes = bytes;
    this.record = record;
    this.cookie = cookie;
  }

  get(name: string): string | null {
    const k = name.toLowerCase();
    if (k === "cookie") return this.cookie;
    return Object.hasOwn(this.record, k) ? this.record[k] ?? null : null;
  }
}

/** The cookies of a `cookie` header, by name (`request.cookies`). */
export function cookieRecord(raw: string | null): Record<string, string> {
  const out: Record<string, string> = {};
  if (raw === null) return out;
  for (const part of raw.split(";")) {
    const i = part.indexOf("=");
    if (i < 0) continue;
    out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}
