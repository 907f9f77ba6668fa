/**
 * Owns `jwt-role-claim-key`: the JSPath subset PostgREST accepts
 * ({@linkcode parseRoleClaimKey}) and its evaluation against the verified
 * claims ({@linkcode extractRole}), as PostgREST's `Config/JSPath.hs`.
 *
 * Grammar (one or more steps, nothing after the last):
 *
 * ```
 * step   = "." name | "." '"' any-but-quote* '"'      -- object key
 *        | "[" digit+ "]"                            -- array index
 *        | "[" "-"? digit* ":" "-"? digit* "]"       -- string slice
 *        | "[?(@" ws op ws '"' any-but-quote* '"' ")]" -- first matching string
 * name   = (letter | digit | "_" | "$" | "@")+
 * op     = "==" | "!=" | "^==" (starts with) | "==^" (ends with) | "*==" (contains)
 * ```
 *
 * Pure: no I/O.
 *
 * @module
 */

/** A comparison inside a filter step. */
export type FilterOp = "==" | "!=" | "^==" | "==^" | "*==";

/** One step of a role claim path. */
export type JsPathStep =
  | { readonly kind: "key"; readonly key: string }
  | { readonly kind: "index"; readonly index: number }
  | {
    readonly kind: "slice";
    readonly start: number | null;
    readonly end: number | null;
  }
  | { readonly kind: "filter"; readonly op: FilterOp; readonly value: string };

/** A parsed `jwt-role-claim-key`. */
export type JsPath = readonly JsPathStep[];

/** The default `jwt-role-claim-key`, `.role`. */
export const DEFAULT_ROLE_CLAIM_KEY: JsPath = [{ kind: "key", key: "role" }];

const NAME_CHAR = /[\p{L}\p{N}_$@]/u;
const SPACE = /\s/u;
const DIGIT = /[0-9]/;

// Longest operators first where one is a prefix of another (`==^` before `==`).
const OPERATORS: readonly FilterOp[] = ["==^", "==", "!=", "^==", "*=="];

class PathSyntaxError extends Error {
  readonly position: number;
  constructor(expected: string, position: number) {
    super(expected);
    this.name = "PathSyntaxError";
    this.position = position;
  }
}

/** A cursor over the code points of the key text. */
class Cursor {
  readonly #chars: readonly string[];
  pos = 0;

  constructor(text: string) {
    this.#chars = Array.from(text);
  }

  get done(): boolean {
    return this.pos >= this.#chars.length;
  }

  peek(offset = 0): string | undefined {
    return this.#chars[this.pos + offset];
  }

  startsWith(s: string): boolean {
    const want = Array.from(s);
    return want.every((c, i) => this.#chars[this.pos + i] === c);
  }

  expect(s: string, what: string): void {
    if (!this.startsWith(s)) throw new PathSyntaxError(what, this.pos);
    this.pos += Array.from(s).length;
  }

  takeWhile(re: RegExp): string {
    let out = "";
    for (let c = this.peek(); c !== undefined && re.test(c); c = this.peek()) {
      out += c;
      this.pos++;
    }
    return out;
  }
}

/**
 * Parses a `jwt-role-claim-key` value such as `.role`,
 * `.realm_access.roles[?(@ == "admin")]` or `."https://x.io/role"[1:]`.
 *
 * @throws {Error} when the text is not a valid path; the message names
 *   `jwt-role-claim-key`
 */
export function parseRoleClaimKey(text: string): JsPath {
  const cur = new Cursor(text);
  const steps: JsPathStep[] = [];
  try {
    do {
      steps.push(parseStep(cur));
    } while (!cur.done);
  } catch (e) {
    if (e instanceof PathSyntaxError) {
      throw new Error(
        `Invalid jwt-role-claim-key ${
          JSON.stringify(text)
        }: expected ${e.message} at position ${e.position}`,
      );
    }
    throw e;
  }
  return steps;
}

function parseStep(cur: Cursor): JsPathStep {
  const c = cur.peek();
  if (c === ".") {
    cur.pos++;
    if (cur.peek() === '"') return { kind: "key", key: parseQuoted(cur) };
    const key = cur.takeWhile(NAME_CHAR);
    if (key === "") {
      throw new PathSyntaxError(
        "an attribute name [a-z0-9_$@] or a quoted name",
        cur.pos,
      );
    }
    return { kind: "key", key };
  }
  if (c === "[") {
    if (cur.startsWith("[?(")) return parseFilter(cur);
    return parseIndexOrSlice(cur);
  }
  throw new PathSyntaxError('"." or "["', cur.pos);
}

function parseQuoted(cur: Cursor): string {
  cur.expect('"', "a double quote");
  const value = cur.takeWhile(/[^"]/u);
  cur.expect('"', "a closing double quote");
  return value;
}

function parseFilter(cur: Cursor): JsPathStep {
  cur.expect("[?(", '"[?("');
  cur.expect("@", '"@"');
  cur.takeWhile(SPACE);
  const op = OPERATORS.find((o) => cur.startsWith(o));
  if (op === undefined) {
    throw new PathSyntaxError(
      "a filter operator (==, !=, ^==, ==^ or *==)",
      cur.pos,
    );
  }
  cur.pos += op.length;
  cur.takeWhile(SPACE);
  const value = parseQuoted(cur);
  cur.expect(")]", '")]"');
  return { kind: "filter", op, value };
}

function parseIndexOrSlice(cur: Cursor): JsPathStep {
  cur.expect("[", '"["');
  const startNeg = cur.peek() === "-";
  if (startNeg) cur.pos++;
  const startDigits = cur.takeWhile(DIGIT);
  if (!startNeg && startDigits !== "" && cur.peek() === "]") {
    cur.pos++;
    return { kind: "index", index: toIndex(startDigits) };
  }
  cur.expect(":", startNeg || startDigits !== "" ? '":" or "]"' : "a digit");
  const endNeg = cur.peek() === "-";
  if (endNeg) cur.pos++;
  const endDigits = cur.takeWhile(DIGIT);
  cur.expect("]", '"]"');
  return {
    kind: "slice",
    start: signed(startNeg, startDigits),
    end: signed(endNeg, endDigits),
  };
}

function toIndex(digits: string): number {
  const n = Number(digits);
  return Number.isSafeInteger(n) ? n : Number.MAX_SAFE_INTEGER;
}

function signed(negative: boolean, digits: string): number | null {
  if (digits === "") return null;
  const n = toIndex(digits);
  return negative ? -n : n;
}

/**
 * Evaluates a path against the verified claims and returns the role it
 * names, or null when the path finds nothing or finds a non-string value.
 */
export function extractRole(
  claims: Readonly<Record<string, unknown>>,
  path: JsPath,
): string | null {
  const value = walk(claims, path, 0);
  return typeof value === "string" ? value : null;
}

function walk(value: unknown, path: JsPath, i: number): unknown {
  const step = path[i];
  if (step === undefined) return value;
  switch (step.kind) {
    case "key": {
      if (!isObject(value) || !Object.hasOwn(value, step.key)) return undefined;
      return walk(value[step.key], path, i + 1);
    }
    case "index": {
      if (!Array.isArray(value) || step.index >= value.length) return undefined;
      return walk(value[step.index], path, i + 1);
    }
    case "slice": {
      if (typeof value !== "string") return undefined;
      return walk(sliceCodePoints(value, step.start, step.end), path, i + 1);
    }
    case "filter": {
      if (!Array.isArray(value)) return undefined;
      const found = value.find((v): v is string =>
        typeof v === "string" && matches(step.op, step.value, v)
      );
      return found === undefined ? undefined : walk(found, path, i + 1);
    }
    default: {
      const never: never = step;
      return never;
    }
  }
}

function matches(op: FilterOp, pattern: string, text: string): boolean {
  switch (op) {
    case "==":
      return text === pattern;
    case "!=":
      return text !== pattern;
    case "^==":
      return text.startsWith(pattern);
    case "==^":
      return text.endsWith(pattern);
    case "*==":
      return text.includes(pattern);
    default: {
      const never: never = op;
      return never;
    }
  }
}

/** Python-like `s[start:end]` over code points, as PostgREST's `T.take`/`T.drop`. */
function sliceCodePoints(
  s: string,
  start: number | null,
  end: number | null,
): string {
  const chars = Array.from(s);
  const len = chars.length;
  const norm = (n: number): number =>
    Math.max(0, Math.min(len, n < 0 ? len + n : n));
  const from = start === null ? 0 : norm(start);
  const to = end === null ? len : norm(end);
  return from >= to ? "" : chars.slice(from, to).join("");
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
