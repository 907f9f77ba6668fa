/**
 * Owns reading which base-table column each view column comes from, out of
 * the view's stored query tree (`pg_rewrite.ev_action` as text): the
 * `resorigtbl`/`resorigcol` of the top-level target list, as PostgREST
 * does to find relationships through views.
 *
 * Pure.
 *
 * @module
 */

/** One output column of a view and the relation column it comes from. */
export interface ViewColumnSource {
  readonly name: string;
  /** OID of the relation the column is taken from (0 when computed). */
  readonly relation: number;
  /** Attribute number in that relation (0 when computed). */
  readonly attnum: number;
}

/** Reads a node-string token starting at `i`, unescaping backslashes. */
function readToken(text: string, i: number): { value: string; end: number } {
  let out = "";
  let j = i;
  while (j < text.length) {
    const c = text[j] ?? "";
    if (c === "\\") {
      out += text[j + 1] ?? "";
      j += 2;
      continue;
    }
    if (c === " " || c === ")" || c === "}" || c === "\n") break;
    out += c;
    j++;
  }
  return { value: out, end: j };
}

/**
 * The top-level target list of a stored view query.
 * Returns [] when the text does not have the expected shape.
 */
export function viewColumnSources(text: string): ViewColumnSource[] {
  let depth = 0;
  let inQuote = false;
  let listStart = -1;
  let listDepth = -1;
  const out: ViewColumnSource[] = [];
  let entryDepth = -1;
  let current: { name: string; relation: number; attnum: number } | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] ?? "";
    if (inQuote) {
      if (c === "\\") i++;
      else if (c === '"') inQuote = false;
      continue;
    }
    if (c === "\\") {
      i++;
      continue;
    }
    if (c === '"') {
      inQuote = true;
      continue;
    }
    if (c === "(" || c === "{") {
      depth++;
      if (
        listStart >= 0 && depth === listDepth + 1 && c === "{" &&
        text.startsWith("{TARGETENTRY", i)
      ) {
        entryDepth = depth;
        current = { name: "", relation: 0, attnum: 0 };
      }
      continue;
    }
    if (c === ")" || c === "}") {
      if (current !== null && depth === entryDepth && c === "}") {
        out.push(current);
        current = null;
        entryDepth = -1;
      }
      depth--;
      if (listStart >= 0 && depth < listDepth) return out;
      continue;
    }
    if (c !== ":") continue;
    // a field name at the depth of the top-level query
    if (listStart < 0 && depth === 2 && text.startsWith(":targetList (", i)) {
      listStart = i;
      listDepth = depth + 1;
      i += ":targetList ".length - 1;
      continue;
    }
    if (current !== null && depth === entryDepth) {
      for (const field of [":resname ", ":resorigtbl ", ":resorigcol "]) {
        if (!text.startsWith(field, i)) continue;
        const tok = readToken(text, i + field.length);
        if (field === ":resname ") {
          current.name = tok.value === "<>" ? "" : tok.value;
        } else if (field === ":resorigtbl ") {
          current.relation = Number(tok.value) || 0;
        } else current.attnum = Number(tok.value) || 0;
        i = tok.end - 1;
        break;
      }
    }
  }
  return out;
}
