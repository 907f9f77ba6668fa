/**
 * Owns the SQL fragment type and the only ways to make SQL text: the `sql`
 * tagged template (which interpolates fragments only), `ident`/`qi` (the one
 * identifier-quoting function), `param` (every value a bind parameter),
 * `keyword` for text from closed lists in our own source, and `render`.
 *
 * Pure.
 *
 * @module
 */

type Chunk = string | { readonly value: unknown };

/** A piece of SQL with its bind values. */
export class Sql {
  readonly chunks: readonly Chunk[];
  constructor(chunks: readonly Chunk[]) {
    this.chunks = chunks;
  }
}

/**
 * Appends `c` to `chunks`, joined to a text chunk before it: fragments
 * nest, so fewer chunks means less copying at every level (the rendered
 * text is the same).
 */
function append(chunks: Chunk[], c: Chunk): void {
  const n = chunks.length;
  if (typeof c === "string" && n > 0) {
    const last = chunks[n - 1];
    if (typeof last === "string") {
      chunks[n - 1] = last + c;
      return;
    }
  }
  chunks.push(c);
}

/** Appends every chunk of `s` to `chunks`. */
function appendAll(chunks: Chunk[], s: Sql): void {
  const cs = s.chunks;
  if (cs.length === 0) return;
  append(chunks, cs[0] as Chunk);
  for (let i = 1; i < cs.length; i++) chunks.push(cs[i] as Chunk);
}

/** SQL from a literal template; only `Sql` fragments may be interpolated. */
export function sql(strings: TemplateStringsArray, ...values: Sql[]): Sql {
  const chunks: Chunk[] = [];
  for (let i = 0; i < strings.length; i++) {
    const s = strings[i] as string;
    if (s !== "") append(chunks, s);
    const v = values[i];
    if (v !== undefined) appendAll(chunks, v);
  }
  return new Sql(chunks);
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
    out = new Sql([`"${cut.replaceAll('"', '""')}"`]);
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
  return new Sql([{ value }]);
}

/**
 * SQL text chosen from a closed list in pgrest's own source (operators,
 * keywords, validated cast names). Never pass request text that was not
 * checked against such a list.
 */
export function keyword(text: string): Sql {
  return new Sql([text]);
}

const COMMA: Sql = keyword(", ");

/** Joins fragments with a separator. */
export function join(items: readonly Sql[], sep: Sql = COMMA): Sql {
  const chunks: Chunk[] = [];
  for (let i = 0; i < items.length; i++) {
    if (i > 0) appendAll(chunks, sep);
    appendAll(chunks, items[i] as Sql);
  }
  return new Sql(chunks);
}

/** The empty fragment. */
export const EMPTY: Sql = new Sql([]);

/** A rendered statement. */
export interface Statement {
  readonly text: string;
  readonly params: readonly unknown[];
}

/** Renders a fragment, numbering parameters from `$1`. */
export function render(s: Sql): Statement {
  let text = "";
  const params: unknown[] = [];
  for (const c of s.chunks) {
    if (typeof c === "string") text += c;
    else {
      params.push(c.value);
      text += `$${params.length}`;
    }
  }
  return { text, params };
}
