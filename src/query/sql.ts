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

/** SQL from a literal template; only `Sql` fragments may be interpolated. */
export function sql(strings: TemplateStringsArray, ...values: Sql[]): Sql {
  const chunks: Chunk[] = [];
  strings.forEach((s, i) => {
    if (s !== "") chunks.push(s);
    const v = values[i];
    if (v !== undefined) chunks.push(...v.chunks);
  });
  return new Sql(chunks);
}

/**
 * Quotes an identifier: wraps in `"`, doubles `"`, cuts at the first NUL
 * (PostgREST's `escapeIdent`).
 */
export function ident(name: string): Sql {
  const nul = name.indexOf("\u0000");
  const cut = nul < 0 ? name : name.slice(0, nul);
  return new Sql([`"${cut.replaceAll('"', '""')}"`]);
}

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

/** Joins fragments with a separator. */
export function join(items: readonly Sql[], sep: Sql = keyword(", ")): Sql {
  const chunks: Chunk[] = [];
  items.forEach((it, i) => {
    if (i > 0) chunks.push(...sep.chunks);
    chunks.push(...it.chunks);
  });
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
