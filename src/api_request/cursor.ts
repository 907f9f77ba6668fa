/**
 * Owns the character cursor the query-string grammars are parsed with, and
 * the parsec-style error messages PostgREST gives when they fail:
 * `"failed to parse <what> (<input>)" (line 1, column N)` with details
 * `unexpected "x" expecting …`.
 *
 * @module
 */

import { parseError, PgrstError } from "../error.ts";

/** A parse failure at a position, before it is given its context. */
export class ParseFailure extends Error {
  readonly pos: number;
  readonly unexpected: string;
  readonly expecting: string;
  constructor(pos: number, unexpected: string, expecting: string) {
    super(`unexpected ${unexpected} expecting ${expecting}`);
    this.name = "ParseFailure";
    this.pos = pos;
    this.unexpected = unexpected;
    this.expecting = expecting;
  }
}

/** A UTF-16 surrogate: the text has a code point of two units. */
const SURROGATE = /[\uD800-\uDFFF]/;

/**
 * Reads a string one code point at a time. Positions count code points.
 * Text without surrogates (nearly every query string) is read in place:
 * its code points are its UTF-16 units; other text is split into code
 * points once.
 */
export class Cursor {
  pos = 0;
  /** The number of code points. */
  readonly length: number;
  readonly #text: string;
  /** The code points, or null when they are the UTF-16 units of `#text`. */
  readonly #chars: readonly string[] | null;
  /**
   * The UTF-16 offset of each code point in `#text`, then its length; null
   * with `#chars`.
   */
  readonly #offsets: Uint32Array | null;

  constructor(text: string) {
    this.#text = text;
    if (!SURROGATE.test(text)) {
      this.#chars = null;
      this.#offsets = null;
      this.length = text.length;
      return;
    }
    const chars = Array.from(text);
    this.#chars = chars;
    this.length = chars.length;
    const offsets = new Uint32Array(chars.length + 1);
    let at = 0;
    for (let i = 0; i < chars.length; i++) {
      offsets[i] = at;
      at += chars[i]?.length ?? 0;
    }
    offsets[chars.length] = at;
    this.#offsets = offsets;
  }

  get done(): boolean {
    return this.pos >= this.length;
  }

  /** The code point at `pos + offset`, or "" outside the input. */
  peek(offset = 0): string {
    return this.at(this.pos + offset);
  }

  /** The code point at index `i`, or "" outside the input. */
  at(i: number): string {
    if (this.#chars !== null) return this.#chars[i] ?? "";
    return i >= 0 ? this.#text[i] ?? "" : "";
  }

  /** The text of code points `from` (inclusive) to `to` (exclusive). */
  slice(from: number, to: number): string {
    const a = Math.min(Math.max(from, 0), this.length);
    const b = Math.min(Math.max(to, a), this.length);
    if (this.#offsets === null) return this.#text.slice(a, b);
    return this.#text.slice(this.#offsets[a], this.#offsets[b]);
  }

  /** Whether the input continues with `s` (an ASCII literal). */
  startsWith(s: string): boolean {
    for (let i = 0; i < s.length; i++) {
      if (this.at(this.pos + i) !== s[i]) return false;
    }
    return true;
  }

  /** Consumes `s` (an ASCII literal) when the input continues with it. */
  eat(s: string): boolean {
    if (!this.startsWith(s)) return false;
    this.pos += s.length;
    return true;
  }

  /**
   * The input from the current position on. A slice of the input string,
   * not a join of `chars`: grammars call it once per level or item, and a
   * copy each time made parsing quadratic in the input's length.
   */
  rest(): string {
    return this.slice(this.pos, this.length);
  }

  /** Fails here with `expecting`. */
  fail(expecting: string): never {
    const c = this.peek();
    throw new ParseFailure(
      this.pos,
      c === "" ? "end of input" : JSON.stringify(c),
      expecting,
    );
  }
}

/** Runs a grammar over `input` and turns failures into PGRST100. */
export function runParser<T>(
  what: string,
  input: string,
  parse: (c: Cursor) => T,
  columnOffset = 0,
): T {
  const c = new Cursor(input);
  try {
    return parse(c);
  } catch (e) {
    if (e instanceof ParseFailure) {
      const column = e.pos + 1 + columnOffset;
      throw parseError(
        `"failed to parse ${what} (${input})" (line 1, column ${column})`,
        `unexpected ${e.unexpected} expecting ${e.expecting}`,
      );
    }
    if (e instanceof PgrstError) throw e;
    throw e;
  }
}

const FIELD_CHAR = /^[\p{L}\p{N}_ $]$/u;

/** True for characters of an unquoted field name. */
export function isFieldChar(c: string): boolean {
  if (c.length === 1) {
    const k = c.charCodeAt(0);
    if (k < 128) {
      // ASCII: letters, digits, "_", " ", "$" (as FIELD_CHAR)
      return (k >= 97 && k <= 122) || (k >= 65 && k <= 90) ||
        (k >= 48 && k <= 57) || k === 95 || k === 32 || k === 36;
    }
  }
  return c !== "" && FIELD_CHAR.test(c);
}

export const FIELD_EXPECTING = "field name (* or [a..z0..9_$])";

/** `"quoted \" value"` → its content. */
export function parseQuoted(c: Cursor): string | null {
  if (c.peek() !== '"') return null;
  c.pos++;
  let out = "";
  for (;;) {
    const ch = c.peek();
    if (ch === "") c.fail('"\\"" or "\\\\"');
    c.pos++;
    if (ch === '"') return out;
    if (ch === "\\") {
      const n = c.peek();
      if (n === "") c.fail("any character");
      c.pos++;
      out += n;
    } else {
      out += ch;
    }
  }
}

/**
 * A field name: a quoted string, or letters, digits, `_`, ` `, `$` in runs
 * joined by single dashes not followed by `>`. Never empty: `""` and names
 * of spaces only fail.
 */
export function parseFieldName(c: Cursor): string {
  const begin = c.pos;
  const name = fieldNameText(c);
  // an empty name can name nothing, and "" is not valid SQL
  if (name === "") {
    c.pos = begin;
    c.fail(FIELD_EXPECTING);
  }
  return name;
}

function fieldNameText(c: Cursor): string {
  const q = parseQuoted(c);
  if (q !== null) return q;
  let out = "";
  for (;;) {
    const start = c.pos;
    while (isFieldChar(c.peek())) c.pos++;
    if (c.pos === start) {
      if (out === "") c.fail(FIELD_EXPECTING);
      c.pos--; // give back the dash
      return out.slice(0, -1).trim();
    }
    out += c.slice(start, c.pos);
    if (c.peek() === "-" && c.peek(1) !== ">") {
      c.pos++;
      out += "-";
      continue;
    }
    // like PostgREST's identifiers, surrounding spaces are not part of it
    return out.trim();
  }
}
