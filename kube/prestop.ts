import type { LifecycleHandler } from './pod-spec.js';
import { PREFIXES, type Reading, SHELLS, SLEEP, unknownReading, ZERO } from './prestop-reading.js';
import { readScript } from './shell-script.js';

// The one reader of preStop hooks that lint and inject share: how long an exec or `sleep` preStop
// holds SIGTERM back. shell-quote tokenises `sh -c` scripts (quotes, operators, comments,
// variables); the bounding (sleeps with GNU units, sums over sequences, `for … in $(seq N)` loops)
// is ours (`sh -c` scripts: shell-script.ts; readings and how they combine: prestop-reading.ts).
// Pure: no I/O.

/** What a preStop handler is known to take. */
export interface PreStopReading {
  /**
   * The longest the handler can take, in seconds, when it can be bounded; undefined when it cannot
   * (see `unknown`). Commands other than `sleep` count 0 s (`nginx -s quit` signals and returns).
   */
  readonly seconds: number | undefined;
  /** Why the duration cannot be bounded (a `while` loop, a script file, `sleep $DELAY`). */
  readonly unknown?: string;
  /**
   * The handler only waits (`sleep`s, in sequence or in a counted loop), so the agent's
   * `fixed:<seconds>` policy can stand for it.
   */
  readonly onlySleeps: boolean;
  /** `sleep` operands that GNU/busybox sleep reject (`1m30s`): the command fails at once. */
  readonly invalidSleeps: readonly string[];
}

/** GNU sleep's operand: a number (integer or decimal) with an optional unit s, m, h or d. */
const SLEEP_OPERAND = /^(\d+(?:\.\d*)?|\.\d+)([smhd]?)$/;
const UNIT_SECONDS: Readonly<Record<string, number>> = { '': 1, s: 1, m: 60, h: 3600, d: 86_400 };
/** Commands that wait for something other than time. */
const WAITING = new Set(['wait', 'read', 'tail', 'inotifywait', 'watch']);

/** The seconds of GNU sleep's operands (summed), or the operands sleep rejects. */
function sleepOperands(args: readonly string[]): Reading {
  if (args.length === 0) return { seconds: 0, onlySleeps: true, invalid: ['(no operand)'] };
  let total = 0;
  const invalid: string[] = [];
  for (const a of args) {
    if (/^inf(inity)?$/i.test(a)) return { ...unknownReading(`sleep ${a} never ends`), onlySleeps: true };
    const m = SLEEP_OPERAND.exec(a);
    if (!m) invalid.push(a);
    else total += Number(m[1]) * UNIT_SECONDS[m[2]!]!;
  }
  // sleep rejects its whole command line when one operand is invalid: it fails at once.
  return invalid.length > 0
    ? { seconds: 0, onlySleeps: true, invalid }
    : { seconds: total, onlySleeps: true, invalid };
}

/** A command run directly (argv, no shell between): `sleep 5`, `sh -c "…"`, `/drain.sh`. */
function readArgv(argv: readonly string[]): Reading {
  const [cmd, ...rest] = argv;
  if (cmd === undefined) return ZERO();
  if (PREFIXES.has(cmd)) return readArgv(rest);
  if (SLEEP.test(cmd)) return sleepOperands(rest);
  if (SHELLS.test(cmd)) {
    // `-c`, or `-c` among combined flags (`bash -ec`).
    const c = rest.findIndex((a) => /^-[a-z]*c[a-z]*$/.test(a));
    const flagsOk = rest.slice(0, c).every((f) => /^-[a-z]+$/.test(f));
    if (c >= 0 && flagsOk && rest[c + 1] !== undefined) return readScript(rest[c + 1]!, readArgv);
    return unknownReading(`${cmd} runs a script file (${rest.join(' ') || 'stdin'})`);
  }
  if (WAITING.has(cmd.replace(/^.*\//, ''))) return unknownReading(`${cmd} waits for an event, not a time`);
  if (/\.(sh|bash)$/.test(cmd)) return unknownReading(`${cmd} is a script`);
  return { seconds: 0, onlySleeps: false, invalid: [] };
}

/**
 * Reads an exec or `sleep` preStop handler; undefined for an httpGet/tcpSocket handler (its
 * duration is the server's) or an empty one. Kubernetes runs an exec command without a shell
 * unless the command names one (`sh -c …`): https://kubernetes.io/docs/concepts/containers/container-lifecycle-hooks/
 */
export function readPreStop(handler: LifecycleHandler): PreStopReading | undefined {
  let r: Reading;
  if (handler.sleep?.seconds !== undefined)
    r = { seconds: handler.sleep.seconds, onlySleeps: true, invalid: [] };
  else if (handler.exec?.command && handler.exec.command.length > 0) r = readArgv(handler.exec.command);
  else return undefined;
  return {
    seconds: r.seconds,
    ...(r.unknown !== undefined ? { unknown: r.unknown } : {}),
    onlySleeps: r.onlySleeps,
    invalidSleeps: r.invalid,
  };
}
