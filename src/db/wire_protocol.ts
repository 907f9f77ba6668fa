/**
 * Owns the PostgreSQL frontend/backend protocol (version 3) at the byte
 * level: building the messages pgrest sends (startup, SSLRequest, password
 * and SASL answers, Parse/Bind/Describe/Execute/Sync/Close) and splitting
 * the byte stream the server sends back into messages, with decoders for the
 * ones pgrest reads (RowDescription, DataRow, ErrorResponse, Authentication,
 * BackendKeyData).
 *
 * Pure: no sockets, no timers. Every value is sent as text with type OID 0
 * (unknown), so PostgreSQL parses it in the context of its placeholder, as
 * libpq does for PostgREST.
 *
 * @module
 */

import { arrayLiteral } from "../query/sql.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Protocol version 3.0. */
const PROTOCOL_VERSION = 196608;
/** The SSLRequest code. */
const SSL_REQUEST_CODE = 80877103;
/** The CancelRequest code. */
const CANCEL_REQUEST_CODE = 80877102;

/** Strings up to this long are written by a loop when they are ASCII. */
const ASCII_FAST_MAX = 256;

/** A growable byte buffer for outgoing messages. */
export class MessageWriter {
  #buf = new Uint8Array(1024);
  #view = new DataView(this.#buf.buffer);
  #pos = 0;

  #ensure(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#pos));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  #byte(b: number): void {
    this.#ensure(1);
    this.#buf[this.#pos++] = b;
  }

  #i16(n: number): void {
    this.#ensure(2);
    this.#view.setInt16(this.#pos, n);
    this.#pos += 2;
  }

  #i32(n: number): void {
    this.#ensure(4);
    this.#view.setInt32(this.#pos, n);
    this.#pos += 4;
  }

  /** Empties the buffer for the next messages (the last bytes() is reused). */
  reset(): this {
    this.#pos = 0;
    return this;
  }

  /**
   * Writes the ASCII prefix of `s` (at most {@linkcode ASCII_FAST_MAX}
   * characters are looked at) and returns how many characters it wrote: a
   * plain loop, cheaper than an encodeInto call for the short names and
   * values most messages carry.
   */
  #asciiPrefix(s: string): number {
    const n = s.length;
    if (n > ASCII_FAST_MAX) return 0;
    this.#ensure(n);
    const buf = this.#buf;
    let pos = this.#pos;
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      buf[pos++] = c;
    }
    this.#pos = pos;
    return i;
  }

  /** A NUL-terminated string. */
  #cstr(s: string): void {
    const done = this.#asciiPrefix(s);
    if (done < s.length) {
      const rest = done === 0 ? s : s.slice(done);
      this.#ensure(rest.length * 3 + 1);
      const { written } = encoder.encodeInto(
        rest,
        this.#buf.subarray(this.#pos),
      );
      this.#pos += written;
    }
    this.#byte(0);
  }

  /**
   * `s` in UTF-8, without reserving three bytes per character up front: a
   * multi-megabyte parameter (a write's body) is mostly ASCII, and a buffer
   * sized for the worst case costs its zeroing and a larger copy.
   */
  #utf8(s: string): void {
    const done = this.#asciiPrefix(s);
    if (done === s.length) return;
    let rest = done === 0 ? s : s.slice(done);
    this.#ensure(rest.length);
    for (;;) {
      const { read, written } = encoder.encodeInto(
        rest,
        this.#buf.subarray(this.#pos),
      );
      this.#pos += written;
      if (read === rest.length) return;
      rest = rest.slice(read);
      this.#ensure(Math.max(rest.length * 3, 4));
    }
  }

  #bytes(b: Uint8Array): void {
    this.#ensure(b.length);
    this.#buf.set(b, this.#pos);
    this.#pos += b.length;
  }

  /** Starts a message with a type byte; returns where its length goes. */
  #begin(type: number): number {
    this.#byte(type);
    const at = this.#pos;
    this.#i32(0);
    return at;
  }

  #end(at: number): void {
    this.#view.setInt32(at, this.#pos - at);
  }

  /** Parse: prepares `text` as the statement `name` ("" = unnamed). */
  parse(name: string, text: string): this {
    const at = this.#begin(0x50);
    this.#cstr(name);
    this.#cstr(text);
    this.#i16(0);
    this.#end(at);
    return this;
  }

  /** Bind: the unnamed portal over statement `name`, text in and out. */
  bind(name: string, params: readonly unknown[]): this {
    const at = this.#begin(0x42);
    this.#byte(0); // unnamed portal
    this.#cstr(name);
    this.#i16(0); // every parameter in text format
    this.#i16(params.length);
    for (const p of params) {
      const text = paramText(p);
      if (text === null) {
        this.#i32(-1);
        continue;
      }
      this.#i32(0);
      const start = this.#pos;
      this.#utf8(text);
      this.#view.setInt32(start - 4, this.#pos - start);
    }
    this.#i16(0); // every result column in text format
    this.#end(at);
    return this;
  }

  /** Describe: a statement (`S`) or the unnamed portal (`P`). */
  describe(kind: "S" | "P", name: string): this {
    const at = this.#begin(0x44);
    this.#byte(kind.charCodeAt(0));
    this.#cstr(name);
    this.#end(at);
    return this;
  }

  /** Execute: the unnamed portal, all rows. */
  execute(): this {
    const at = this.#begin(0x45);
    this.#byte(0);
    this.#i32(0);
    this.#end(at);
    return this;
  }

  /** Close: a prepared statement. */
  close(name: string): this {
    const at = this.#begin(0x43);
    this.#byte(0x53);
    this.#cstr(name);
    this.#end(at);
    return this;
  }

  /** Sync: ends the pipeline (and its implicit transaction). */
  sync(): this {
    this.#byte(0x53);
    this.#i32(4);
    return this;
  }

  /** The startup message with its parameters (user, database, …). */
  startup(params: Readonly<Record<string, string>>): this {
    const at = this.#pos;
    this.#i32(0);
    this.#i32(PROTOCOL_VERSION);
    for (const [k, v] of Object.entries(params)) {
      this.#cstr(k);
      this.#cstr(v);
    }
    this.#byte(0);
    this.#view.setInt32(at, this.#pos - at);
    return this;
  }

  /** PasswordMessage: a cleartext or MD5 password. */
  password(text: string): this {
    const at = this.#begin(0x70);
    this.#cstr(text);
    this.#end(at);
    return this;
  }

  /** SASLInitialResponse. */
  saslInitial(mechanism: string, data: Uint8Array): this {
    const at = this.#begin(0x70);
    this.#cstr(mechanism);
    this.#i32(data.length);
    this.#bytes(data);
    this.#end(at);
    return this;
  }

  /** SASLResponse. */
  saslResponse(data: Uint8Array): this {
    const at = this.#begin(0x70);
    this.#bytes(data);
    this.#end(at);
    return this;
  }

  /** Terminate. */
  terminate(): this {
    this.#byte(0x58);
    this.#i32(4);
    return this;
  }

  /**
   * The bytes written so far: a view, not a copy (a 2 MB body's Bind would
   * be copied once more), so nothing may be written after it is taken.
   */
  bytes(): Uint8Array {
    return this.#buf.subarray(0, this.#pos);
  }

  /** The buffer's size in bytes (what a reused writer keeps). */
  get capacity(): number {
    return this.#buf.length;
  }

  get length(): number {
    return this.#pos;
  }
}

/** The 8-byte SSLRequest. */
export function sslRequest(): Uint8Array {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setInt32(0, 8);
  v.setInt32(4, SSL_REQUEST_CODE);
  return b;
}

/** The 16-byte CancelRequest for a backend. */
export function cancelRequest(pid: number, secret: number): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setInt32(0, 16);
  v.setInt32(4, CANCEL_REQUEST_CODE);
  v.setInt32(8, pid);
  v.setInt32(12, secret);
  return b;
}

/**
 * A bind value as the text PostgreSQL parses, or null for SQL NULL: strings
 * as they are, numbers and booleans in their SQL spelling, bytes as a bytea
 * hex literal, anything else as JSON.
 */
export function paramText(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case "string":
      return v;
    case "number":
    case "bigint":
      return String(v);
    case "boolean":
      return v ? "t" : "f";
    default:
      if (Array.isArray(v)) return arrayLiteral(v);
      if (v instanceof Uint8Array) {
        let hex = "\\x";
        for (const b of v) hex += b.toString(16).padStart(2, "0");
        return hex;
      }
      return JSON.stringify(v);
  }
}

/** A result column: its name and type OID. */
export interface Column {
  readonly name: string;
  readonly type: number;
}

/** Splits a byte stream into messages; keeps a partial one for later. */
export class MessageReader {
  #buf = new Uint8Array(0);
  #start = 0;
  #end = 0;

  /** Appends received bytes. */
  push(chunk: Uint8Array): void {
    const pending = this.#end - this.#start;
    if (pending === 0 && chunk.length <= this.#buf.length) {
      this.#buf.set(chunk, 0);
      this.#start = 0;
      this.#end = chunk.length;
      return;
    }
    if (this.#end + chunk.length > this.#buf.length) {
      const size = Math.max(pending + chunk.length, this.#buf.length * 2, 8192);
      const next = new Uint8Array(size);
      next.set(this.#buf.subarray(this.#start, this.#end), 0);
      this.#buf = next;
      this.#start = 0;
      this.#end = pending;
    }
    this.#buf.set(chunk, this.#end);
    this.#end += chunk.length;
  }

  /**
   * The next complete message as its type byte and body (a view valid until
   * the next `push`), or null when more bytes are needed.
   */
  next(): { type: number; body: Uint8Array } | null {
    if (this.#end - this.#start < 5) return null;
    const b = this.#buf;
    const s = this.#start;
    const len = ((b[s + 1]! << 24) | (b[s + 2]! << 16) | (b[s + 3]! << 8) |
      b[s + 4]!) >>> 0;
    if (len < 4) throw new Error("protocol error: bad message length");
    if (this.#end - s < 1 + len) return null;
    this.#start = s + 1 + len;
    if (this.#start === this.#end) {
      this.#start = 0;
      this.#end = 0;
    }
    return { type: b[s]!, body: b.subarray(s + 5, s + 1 + len) };
  }
}

function i16(b: Uint8Array, at: number): number {
  return ((b[at]! << 8) | b[at + 1]!) << 16 >> 16;
}

function i32(b: Uint8Array, at: number): number {
  return (b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!;
}

/** Texts up to this many bytes are decoded by a loop when they are ASCII. */
const ASCII_DECODE_MAX = 64;

/** The UTF-8 text of `b[start, end)`. */
function text(b: Uint8Array, start: number, end: number): string {
  if (end - start <= ASCII_DECODE_MAX) {
    let out = "";
    let i = start;
    for (; i < end; i++) {
      const c = b[i]!;
      if (c >= 0x80) break;
      out += String.fromCharCode(c);
    }
    if (i === end) return out;
  }
  return decoder.decode(b.subarray(start, end));
}

/** A NUL-terminated string at `at`: its text and the offset after it. */
function cstr(b: Uint8Array, at: number): [string, number] {
  const end = b.indexOf(0, at);
  const stop = end < 0 ? b.length : end;
  return [text(b, at, stop), stop + 1];
}

/** RowDescription → columns. */
export function readRowDescription(b: Uint8Array): Column[] {
  const n = i16(b, 0);
  const cols: Column[] = [];
  let at = 2;
  for (let i = 0; i < n; i++) {
    const [name, next] = cstr(b, at);
    // table oid (4), column number (2), then the type oid
    const type = i32(b, next + 6) >>> 0;
    cols.push({ name, type });
    at = next + 18;
  }
  return cols;
}

/** The JS value of a text-format column, as postgres.js gives it. */
function decodeValue(type: number, text: string): unknown {
  switch (type) {
    case 16:
      return text === "t";
    case 21:
    case 23:
    case 26:
    case 700:
    case 701:
      return Number(text);
    default:
      return text;
  }
}

/** DataRow → a row keyed by column name. */
export function readDataRow(
  b: Uint8Array,
  columns: readonly Column[],
): Record<string, unknown> {
  const n = i16(b, 0);
  const row: Record<string, unknown> = {};
  let at = 2;
  for (let i = 0; i < n; i++) {
    const len = i32(b, at);
    at += 4;
    const col = columns[i];
    const name = col?.name ?? `?column${i}?`;
    if (len < 0) {
      row[name] = null;
      continue;
    }
    row[name] = decodeValue(col?.type ?? 25, text(b, at, at + len));
    at += len;
  }
  return row;
}

/** The fields of an ErrorResponse or NoticeResponse. */
export interface ServerMessageFields {
  readonly severity: string;
  readonly code: string;
  readonly message: string;
  readonly detail?: string;
  readonly hint?: string;
}

/** ErrorResponse/NoticeResponse → its fields. */
export function readErrorFields(b: Uint8Array): ServerMessageFields {
  const f: Record<string, string> = {};
  let at = 0;
  while (at < b.length && b[at] !== 0) {
    const key = String.fromCharCode(b[at]!);
    const [value, next] = cstr(b, at + 1);
    f[key] = value;
    at = next;
  }
  return {
    severity: f["V"] ?? f["S"] ?? "ERROR",
    code: f["C"] ?? "XX000",
    message: f["M"] ?? "",
    ...(f["D"] === undefined ? {} : { detail: f["D"] }),
    ...(f["H"] === undefined ? {} : { hint: f["H"] }),
  };
}

/** An Authentication message: its code and the rest of its body. */
export function readAuthentication(
  b: Uint8Array,
): { code: number; data: Uint8Array } {
  return { code: i32(b, 0), data: b.subarray(4) };
}

/** BackendKeyData → the backend's pid and cancel secret. */
export function readBackendKey(b: Uint8Array): { pid: number; secret: number } {
  return { pid: i32(b, 0), secret: i32(b, 4) };
}

/** The SASL mechanisms of an AuthenticationSASL body. */
export function readSaslMechanisms(data: Uint8Array): string[] {
  const out: string[] = [];
  let at = 0;
  while (at < data.length && data[at] !== 0) {
    const [m, next] = cstr(data, at);
    out.push(m);
    at = next;
  }
  return out;
}
