import type { SeededRandom } from '../random/seeded-random.js';

/**
 * A seeded choice of `share` (0–1) of `ids`, rounded: a Fisher–Yates shuffle,
 * then the first ones. The same seed and ids give the same devices.
 */
export function chooseShare(ids: readonly string[], share: number, rng: SeededRandom): string[] {
  const shuffled = [...ids];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    [shuffled[i], shuffled[j]] = [shuffled[j] as string, shuffled[i] as string];
  }
  return shuffled.slice(0, Math.round(share * ids.length));
}
