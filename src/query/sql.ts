/**
 * Owns the SQL fragment type and the only ways to make SQL text: the `sql`
 * tagged template (which interpolates fragments only), `ident`/`qi` (the one
 * identifier-quoting function), `param` (every value a bind parameter),
 * `keyword` for text from closed lists in our own source, and `render`.
 *
 * A fragment is a tree: a template keeps its literal strings (the engine's
 * own array, shared by every call of one template) and the fragments put
 * into it, a join keeps its items, and nothing is copied as fragments nest;
 * `render` walks the tree once.
 *
 * Pure.
 *
 * @module
 */

/** Fragment kinds. */
const TEXT = 0;
const PARAM = 1;
const TEMPLATE = 2;
const JOIN = 3;
type Kind = typeof TEXT | typeof PARAM | typeof TEMPLATE | typeof JOIN;

const NO_STRINGS: readonly string[] = Object.freeze([]);
const NO_PARTS: readonly Sql[] = Object.freeze([]);

/**
 * A piece of SQL with its bind values. Made only by this module's
 * functions; read only by {@linkcode render}.
 */
export class Sql {
  /** Which of the fields below mean something. */
  readonly kind: Kind;
  /** TEXT: the SQL text. */
  readonly text: string;
  /** PARAM: the bound value. */
  readonly value: unknown;
  /** TEMPLATE: the literal strings, one more than `parts`. */
  readonly strings: readonly string[];
  /** TEMPLATE: the interpolated fragments; JOIN: the items. */
  readonly parts: readonly Sql[];
  /** JOIN: the separator. */
  readonly sep: Sql | null;
  constructor(
    kind: Kind,
    text: string,
    value: unknown,
    strings: readonly string[],
    parts: readonly Sql[],
    sep: Sql | null,
  ) {
    this.kind = kind;
    this.text = text;
    this.value = value;
    this.strings = strings;
    this.parts = parts;
    this.sep = sep;
  }
}

function textSql(text: string): Sql {
  return new Sql(TEXT, text, undefined, NO_STRINGS, NO_PARTS, null);
}

/** SQL from a literal template; only `Sql` fragments may be interpolated. */
export function sql(strings: TemplateStringsArray, ...values: Sql[]): Sql {
  return new Sql(TEMPLATE, "", undefined, strings, values, null);
}

/**
 * Quotes an identifier: wraps in `"`, doubles `"`, cuts at the first NUL
 * (PostgREST's `escapeIdent`).
 */
export function ident(name: string): Sql {
  let out = idents.get(name);
  if (out === undefined) {
    const nul = name.indexOf("\u0000");
    const cut = nul < 0 ? name : name.slice(0, nul);
    out = textSql(`"${cut.replaceAll('"', '""')}"`);
    // names come from the schema and from requests: a bounded memo
    if (idents.size >= 4096) idents.clear();
    idents.set(name, out);
  }
  return out;
}

/** Quoted identifiers by name (fragments are immutable, so shared). */
const idents = new Map<string, Sql>();

/** A schema-qualified identifier. */
export function qi(schema: string, name: string): Sql {
  return sql`${ident(schema)}.${ident(name)}`;
}

/**
 * A PostgreSQL array literal (`{"a","b",NULL}`) of JS values, bound as one
 * parameter: null is NULL, arrays nest, objects are JSON, the rest their
 * text. The one array-quoting rule.
 */
export function arrayLiteral(values: readonly unknown[]): string {
  const items = values.map((v): string => {
    if (v === null || v === undefined) return "NULL";
    if (Array.isArray(v)) return arrayLiteral(v);
    const text = typeof v === "object" ? JSON.stringify(v) : String(v);
    return `"${text.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
  });
  return `{${items.join(",")}}`;
}

/** A bind parameter. */
export function param(value: unknown): Sql {
  return new Sql(PARAM, "", value, NO_STRINGS, NO_PARTS, null);
}

/**
 * SQL text chosen from a closed list in pgrest's own source (operators,
 * keywords, validated cast names). Never pass request text that was not
 * checked against such a list.
 */
export function keyword(text: string): Sql {
  return textSql(text);
}

const COMMA: Sql = keyword(", ");

/** Joins fragments with a separator. */
export function join(items: readonly Sql[], sep: Sql = COMMA): Sql {
  // a copy: the caller's array may change after
  return new Sql(JOIN, "", undefined, NO_STRINGS, items.slice(), sep);
}

/** The empty fragment. */
export const EMPTY: Sql = textSql("");

/** A rendered statement. */
export interface Statement {
  readonly text: string;
  readonly params: readonly unknown[];
}

/** `$1` … `$n`, made once. */
const placeholders: string[] = [];

function placeholder(n: number): string {
  let p = placeholders[n];
  if (p === undefined) {
    p = `$${n}`;
    if (n < 1024) placeholders[n] = p;
  }
  return p;
}

/** Text and parameters collected by {@linkcode walk}. */
class Out {
  text = "";
  params: unknown[] = [];
}

function walk(s: Sql, out: Out): void {
  switch (s.kind) {
    case TEXT:
      out.text += s.text;
      return;
    case PARAM:
      out.params.push(s.value);
      out.text += placeholder(out.params.length);
      return;
    case TEMPLATE: {
      const strings = s.strings;
      const parts = s.parts;
      for (let i = 0; i < parts.length; i++) {
        out.text += strings[i] as string;
        walk(parts[i] as Sql, out);
      }
      out.text += strings[parts.length] as string;
      return;
    }
    case JOIN: {
      const items = s.parts;
      const sep = s.sep as Sql;
      for (let i = 0; i < items.length; i++) {
        if (i > 0) walk(sep, out);
        walk(items[i] as Sql, out);
      }
      return;
    }
    default: {
      const never: never = s.kind;
      throw new Error(`unknown fragment kind ${String(never)}`);
    }
  }
}

/** Renders a fragment, numbering parameters from `$1`. */
export function render(s: Sql): Statement {
  const out = new Out();
  walk(s, out);
  return { text: out.text, params: out.params };
}
