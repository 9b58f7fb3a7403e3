/** A small seeded PRNG (mulberry32) so splits are reproducible across runs and machines. */
export function seededRandom(seed: number): () => number {
  let a = (Math.floor(seed) >>> 0) ^ 0x9e3779b9;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher–Yates shuffle of indices 0..n-1 with a seeded PRNG. */
export function shuffledIndices(n: number, seed: number): number[] {
  const rnd = seededRandom(seed);
  const idx = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx;
}

/**
 * Splits `n` items into consecutive parts of a seeded shuffle: the first
 * `fractions[0]` of them, then `fractions[1]`, ..., and the rest last.
 * Each part keeps the items' original order. Sizes are rounded down, except
 * that a part asked for a positive fraction gets at least one item when
 * there are enough to leave one for the rest.
 */
export function seededSplit(n: number, fractions: number[], seed: number): number[][] {
  const order = shuffledIndices(n, seed);
  const parts: number[][] = [];
  let start = 0;
  for (const f of fractions) {
    let size = Math.floor(n * f);
    if (f > 0 && size === 0 && n - start > 1) size = 1;
    parts.push(order.slice(start, start + size).sort((a, b) => a - b));
    start += size;
  }
  parts.push(order.slice(start).sort((a, b) => a - b));
  return parts;
}
