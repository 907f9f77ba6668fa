/**
 * Owns {@linkcode Memo2}: values that depend on two keys only (a schema
 * cache and a table, a configuration and a schema, …), computed once per
 * pair and forgotten with their first key, which is held weakly. The hot
 * path asks for them on every request; the compute function is fixed when
 * the memo is made, so a lookup allocates nothing.
 *
 * @module
 */

/** The inner map: a `Map`, or a `WeakMap` when the second key is an object. */
export interface MemoStore<K, V> {
  get(key: K): V | undefined;
  set(key: K, value: V): unknown;
}

/** A value per pair of keys (never `undefined`: that means "not computed"). */
export class Memo2<
  K1 extends object,
  K2,
  V extends NonNullable<unknown> | null,
> {
  readonly #outer = new WeakMap<K1, MemoStore<K2, V>>();
  readonly #compute: (a: K1, b: K2) => V;
  readonly #newInner: () => MemoStore<K2, V>;

  constructor(
    compute: (a: K1, b: K2) => V,
    newInner: () => MemoStore<K2, V>,
  ) {
    this.#compute = compute;
    this.#newInner = newInner;
  }

  /** The value for `a` and `b`, computed on first use. */
  get(a: K1, b: K2): V {
    let inner = this.#outer.get(a);
    if (inner === undefined) {
      inner = this.#newInner();
      this.#outer.set(a, inner);
    }
    let value = inner.get(b);
    if (value === undefined) {
      value = this.#compute(a, b);
      inner.set(b, value);
    }
    return value;
  }
}
