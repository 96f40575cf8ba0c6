/**
 * Work on many items where only some must wait for each other: items with
 * the same key run one after the other, in the given order; items of
 * different keys run at once. The alert dispatch uses it so that a storm of
 * many hosts' alerts does not pay each alert's Redis round trips in turn,
 * while one host's alerts keep their order.
 */

/**
 * Runs `fn` on every item, each key's items in order and the keys at once.
 * A key's first failure skips its later items (they must not overtake it);
 * the other keys go on. Rejects with the first failure once every key is done.
 */
export async function inOrderByKey<T>(
  items: readonly T[],
  keyOf: (item: T) => string,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  const byKey = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const same = byKey.get(key);
    if (same) same.push(item);
    else byKey.set(key, [item]);
  }
  const failures: unknown[] = [];
  await Promise.all(
    [...byKey.values()].map(async (same) => {
      try {
        for (const item of same) await fn(item);
      } catch (err) {
        failures.push(err);
      }
    }),
  );
  if (failures.length > 0) throw failures[0];
}
