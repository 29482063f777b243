import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

// V8 doubles the young generation (up to 2 × 16 MB semi-spaces) whenever many objects survive a
// scavenge, which a proxy's burst of connections does, and RSS keeps that peak. V8 reads
// `--semi-space-growth-factor` each time it grows new space, so setting it to 1 from inside the
// process stops the growth where it is (`--max-semi-space-size` counts only before the heap
// exists, i.e. in NODE_OPTIONS). Frozen at the initial 1 MB semi-spaces the agent lost a third of
// its throughput and ~2 ms of p99 to scavenges; frozen once new space reached 8 MB it keeps both
// (docs/agent.md, benchmark).
const FREEZE_AT_BYTES = 8 * 1024 * 1024;
const CHECK_MS = 100;

/** Lets the young generation grow to 8 MB, then no further. Process-wide: call once, from the CLI. */
export function capYoungGeneration(): void {
  const timer = setInterval(() => {
    const newSpace = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
    if (!newSpace || newSpace.space_size < FREEZE_AT_BYTES) return;
    setFlagsFromString('--semi-space-growth-factor=1');
    clearInterval(timer);
  }, CHECK_MS);
  timer.unref();
}
