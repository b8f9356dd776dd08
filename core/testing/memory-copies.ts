/**
 * How the in-memory fakes hand values across their boundary: every value stored or handed back is a
 * structured clone, so a caller mutating what it passed in or got back changes nothing stored, as
 * with a database.
 */
export const clone = <T>(value: T): T => structuredClone(value);

/** A copy of the value stored under `key`, or null when there is none: what each fake's `get` returns. */
export function copyOf<K, V>(store: ReadonlyMap<K, V>, key: K): V | null {
  const value = store.get(key);
  return value ? clone(value) : null;
}

/** Copies of `values` in ascending order of `id`: the order the DynamoDB adapters sort their listings into. */
export function copiesById<T>(values: Iterable<T>, id: (value: T) => string): T[] {
  return [...values].map(clone).sort((a, b) => id(a).localeCompare(id(b)));
}
