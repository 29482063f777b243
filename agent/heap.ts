import { setFlagsFromString } from 'node:v8';

// V8 doubles the young generation (up to 2 × 16 MB semi-spaces) whenever many objects survive a
// scavenge, which a proxy's burst of connections does, and RSS keeps that peak. V8 reads
// `--semi-space-growth-factor` each time it grows new space, so setting it to 1 from inside the
// process keeps the young generation at its initial 1 MB semi-spaces; `--max-semi-space-size`,
// by contrast, only counts before the heap exists (NODE_OPTIONS). Measured with 1,000 keep-alive
// connections / 1,000 WebSockets: about 25–30 MB less RSS (docs/agent.md, benchmark).

/** Keeps the agent process's young generation at its initial size. Process-wide: call once, from the CLI. */
export function capYoungGeneration(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
}
