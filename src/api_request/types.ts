/**
 * Owns the typed picture of an HTTP request that the parser produces and
 * the planner consumes: select trees, filters, logic trees, order terms,
 * ranges, preferences and the request's target.
 *
 * @module
 */

import type { Payload } from "./payload.ts";

/** One step of a JSON path: `->key`, `->>key`, `->0`. */
export interface JsonStep {
  readonly arrow: "->" | "->>";
  readonly key: string | number;
}

/** A column, possibly followed by a JSON path. */
export interface Field {
  readonly name: string;
  readonly jsonPath: readonly JsonStep[];
}

export type AggregateFn = "count" | "sum" | "avg" | "min" | "max";

/** An item of the `select` parameter. */
export type SelectItem =
  | { readonly kind: "star" }
  | {
    readonly kind: "field";
    readonly field: Field;
    readonly alias: string | null;
    readonly cast: string | null;
    readonly aggregate: AggregateFn | null;
    readonly aggregateCast: string | null;
  }
  | {
    /** `count()` with no column. */
    readonly kind: "count";
    readonly alias: string | null;
    readonly cast: string | null;
  }
  | {
    readonly kind: "embed";
    readonly name: string;
    readonly alias: string | null;
    readonly hint: string | null;
    readonly joinType: "inner" | "left" | null;
    readonly spread: boolean;
    readonly select: readonly SelectItem[];
  };

export type SimpleOperator =
  | "eq"
  | "neq"
  | "gt"
  | "gte"
  | "lt"
  | "lte"
  | "like"
  | "ilike"
  | "match"
  | "imatch"
  | "cs"
  | "cd"
  | "ov"
  | "sl"
  | "sr"
  | "nxr"
  | "nxl"
  | "adj"
  | "isdistinct";

export type QuantOperator =
  | "eq"
  | "gt"
  | "gte"
  | "lt"
  | "lte"
  | "like"
  | "ilike"
  | "match"
  | "imatch";

export type FtsOperator = "fts" | "plfts" | "phfts" | "wfts";

export type IsValue = "null" | "not_null" | "true" | "false" | "unknown";

/** The right-hand side of a filter. */
export type Operation =
  | { readonly kind: "op"; readonly op: SimpleOperator; readonly value: string }
  | {
    readonly kind: "quant";
    readonly op: QuantOperator;
    readonly quantifier: "any" | "all";
    readonly value: string;
  }
  | { readonly kind: "in"; readonly values: readonly string[] }
  | { readonly kind: "is"; readonly value: IsValue }
  | {
    readonly kind: "fts";
    readonly op: FtsOperator;
    readonly language: string | null;
    readonly value: string;
  };

/** `field=[not.]op.value`. */
export interface Filter {
  readonly field: Field;
  readonly negated: boolean;
  readonly operation: Operation;
}

/** An `and`/`or` tree. */
export type LogicTree =
  | {
    readonly kind: "expr";
    readonly negated: boolean;
    readonly op: "and" | "or";
    readonly children: readonly LogicTree[];
  }
  | { readonly kind: "filter"; readonly filter: Filter };

/** One term of `order`. */
export type OrderTerm =
  | {
    readonly kind: "field";
    readonly field: Field;
    readonly direction: "asc" | "desc" | null;
    readonly nulls: "first" | "last" | null;
  }
  | {
    /** `rel(col)` ordering by a to-one embed's column. */
    readonly kind: "relation";
    readonly relation: string;
    readonly field: Field;
    readonly direction: "asc" | "desc" | null;
    readonly nulls: "first" | "last" | null;
  };

/** A path of embed names (aliases or names); `[]` is the top level. */
export type EmbedPath = readonly string[];

/** Offset and optional limit. */
export interface RangeSpec {
  readonly offset: number;
  readonly limit: number | null;
}

/** Everything the query string says. */
export interface QueryParams {
  readonly select: readonly SelectItem[];
  readonly filters: readonly {
    readonly path: EmbedPath;
    readonly filter: Filter;
  }[];
  readonly logic: readonly {
    readonly path: EmbedPath;
    readonly tree: LogicTree;
  }[];
  readonly order: readonly {
    readonly path: EmbedPath;
    readonly terms: readonly OrderTerm[];
  }[];
  /** Ranges per embed path joined with `\u0000` (`""` is the top level). */
  readonly ranges: ReadonlyMap<string, RangeSpec>;
  readonly columns: readonly string[] | null;
  readonly onConflict: readonly string[] | null;
  /** Non-reserved parameters as given (RPC arguments on GET). */
  readonly rpcArgs: readonly (readonly [string, string])[];
}

/** The `Prefer` header. */
export interface Preferences {
  readonly count: "exact" | "planned" | "estimated" | null;
  readonly return: "minimal" | "headers-only" | "representation" | null;
  readonly resolution: "merge-duplicates" | "ignore-duplicates" | null;
  readonly missing: "default" | "null" | null;
  readonly handling: "strict" | "lenient" | null;
  readonly tx: "commit" | "rollback" | null;
  readonly timezone: string | null;
  readonly maxAffected: number | null;
  /** Preference tokens that were not understood. */
  readonly invalid: readonly string[];
}

/** The resource a request targets. */
export type Target =
  | { readonly kind: "relation"; readonly name: string }
  | { readonly kind: "routine"; readonly name: string }
  | { readonly kind: "root" };

export type Method =
  | "GET"
  | "HEAD"
  | "POST"
  | "PATCH"
  | "PUT"
  | "DELETE"
  | "OPTIONS";

/** A parsed request, ready for planning. */
export interface ApiRequest {
  readonly method: Method;
  readonly target: Target;
  readonly schema: string;
  /** True when the schema was chosen by a profile header. */
  readonly profileGiven: boolean;
  readonly params: QueryParams;
  readonly prefs: Preferences;
  /** The top-level range from `limit`/`offset` and the `Range` header. */
  readonly range: RangeSpec;
  /** The Accept header's media types in preference order. */
  readonly accept: readonly string[];
  readonly body: Uint8Array | null;
  /**
   * The body of a table write or function call, already parsed (large JSON
   * bodies are parsed on a worker thread before planning, see
   * src/body_parser.ts); when absent, the plan parses `body`.
   */
  readonly payload?: Payload;
  readonly contentType: string;
  /** The path with its query parameters sorted (Content-Location). */
  readonly canonical: string;
}
