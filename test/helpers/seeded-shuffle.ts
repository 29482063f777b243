import { createRng } from '../../lib/random.js';

/** A seeded Fisher–Yates shuffle (mulberry32): the same seed gives the same order, so a failure replays. */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const random = createRng(seed);
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
