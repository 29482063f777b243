// The live line of a rehearsal: on a terminal one line rewritten in place, elsewhere (CI logs)
// one line every few seconds so the log stays readable.

export interface ProgressState {
  readonly label: string;
  readonly podsReplaced: number;
  readonly podsTotal: number;
  readonly sessionsOk: number;
  readonly sessionsLost: number;
  readonly requests: number;
  readonly errors: number;
  readonly elapsedMs: number;
}

export interface ProgressOutput {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

export interface ProgressDisplay {
  /**
   * A start-up step (`starting nats-server`, `[naive] starting 3 pods`), shown from the first
   * second, before any traffic: on a terminal in place of the live line, elsewhere one line each.
   */
  step(text: string): void;
  update(state: ProgressState): void;
  /** Ends the line (TTY) or prints the last state (non-TTY); a second call prints nothing. */
  done(): void;
}

/**
 * The live line. Its request and error counts are every probe request so far, before the rollout
 * and after it included, as the probe saw them; the table splits them by window ("failed before
 * the rollout", then the rollout's), so its figures are smaller.
 */
export function formatProgressLine(s: ProgressState): string {
  const secs = (s.elapsedMs / 1000).toFixed(0).padStart(3);
  return `[${s.label}] ${secs}s  pods replaced ${s.podsReplaced}/${s.podsTotal}  sessions ok ${s.sessionsOk} lost ${s.sessionsLost}  requests so far ${s.requests}  errors ${s.errors}`;
}

export interface ProgressOptions {
  /** Non-TTY: at most one line per this many ms. */
  readonly intervalMs?: number;
  readonly now?: () => number;
}

export function createProgressDisplay(out: ProgressOutput, options: ProgressOptions = {}): ProgressDisplay {
  const interval = options.intervalMs ?? 5000;
  const now = options.now ?? Date.now;
  let last: ProgressState | undefined;
  let lastPrinted: string | undefined;
  let lastPrintAt = -Infinity;
  let stepShown = false;
  return {
    step(text) {
      if (out.isTTY) {
        out.write(`\r${text}…\x1b[K`);
        stepShown = true;
      } else out.write(`${text}…\n`);
    },
    update(state) {
      last = state;
      if (out.isTTY) {
        stepShown = false;
        out.write(`\r${formatProgressLine(state)}\x1b[K`);
        return;
      }
      if (now() - lastPrintAt >= interval) {
        lastPrintAt = now();
        lastPrinted = formatProgressLine(state);
        out.write(`${lastPrinted}\n`);
      }
    },
    done() {
      // A step left on a terminal line with no progress after it (a failure) keeps its line.
      if (!last && stepShown && out.isTTY) out.write('\n');
      stepShown = false;
      if (!last) return;
      const final = last;
      last = undefined;
      if (out.isTTY) out.write(`\r${formatProgressLine(final)}\x1b[K\n`);
      else if (formatProgressLine(final) !== lastPrinted) out.write(`${formatProgressLine(final)}\n`);
    },
  };
}
