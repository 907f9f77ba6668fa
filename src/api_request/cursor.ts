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

/** Reads a string one code point at a time. */
export class Cursor {
  readonly chars: readonly string[];
  pos = 0;

  constructor(text: string) {
    this.chars = Array.from(text);
  }

  get done(): boolean {
    return this.pos >= this.chars.length;
  }

  peek(offset = 0): string {
    return this.chars[this.pos + offset] ?? "";
  }

  /** Whether the input continues with `s` (an ASCII literal). */
  startsWith(s: string): boolean {
    for (let i = 0; i < s.length; i++) {
      if (this.chars[this.pos + i] !== s[i]) return false;
    }
    return true;
  }

  /** Consumes `s` (an ASCII literal) when the input continues with it. */
  eat(s: string): boolean {
    if (!this.startsWith(s)) return false;
    this.pos += s.length;
    return true;
  }

  rest(): string {
    return this.chars.slice(this.pos).join("");
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
): T {
  const c = new Cursor(input);
  try {
    return parse(c);
  } catch (e) {
    if (e instanceof ParseFailure) {
      throw parseError(
        `"failed to parse ${what} (${input})" (line 1, column ${e.pos + 1})`,
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
    out += c.chars.slice(start, c.pos).join("");
    if (c.peek() === "-" && c.peek(1) !== ">") {
      c.pos++;
      out += "-";
      continue;
    }
    // like PostgREST's identifiers, surrounding spaces are not part of it
    return out.trim();
  }
}
