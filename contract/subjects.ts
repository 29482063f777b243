import { InvalidSubjectError } from './errors.js';
import { EVENT_KINDS, type EventKind } from './kinds.js';

export const DEFAULT_SUBJECT_ROOT = 'drainwatch';
export const DEFAULT_STREAM_NAME = 'DRAINWATCH';
export const SUBJECT_VERSION = 'v1';

/** The pod token of events that no single pod emitted (rollouts, probes). No Kubernetes name is `_`. */
export const NO_POD_TOKEN = '_';

// NATS subject tokens must not contain `.`, whitespace, `*` or `>`, nor be empty. Names come from
// users (workload labels, local pod names), so every byte outside [A-Za-z0-9_-] is escaped as `~HH`;
// the empty string becomes `~0` and a leading `_` is escaped so no name collides with NO_POD_TOKEN.
const SAFE = /^[A-Za-z0-9_-]$/;

export function escapeToken(name: string): string {
  if (name === '') return '~0';
  let out = '';
  const bytes = Buffer.from(name, 'utf8');
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    const ch = String.fromCharCode(b);
    if (b < 0x80 && SAFE.test(ch) && !(i === 0 && ch === '_')) out += ch;
    else out += '~' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

export function unescapeToken(token: string): string {
  if (token === '~0') return '';
  if (!/^(?:[A-Za-z0-9_-]|~[0-9A-F]{2})+$/.test(token)) {
    throw new InvalidSubjectError(
      'subject',
      `token ${JSON.stringify(token)} is not a drainwatch-escaped name`,
    );
  }
  const bytes: number[] = [];
  for (let i = 0; i < token.length; ) {
    if (token[i] === '~') {
      bytes.push(Number.parseInt(token.slice(i + 1, i + 3), 16));
      i += 3;
    } else {
      bytes.push(token.charCodeAt(i));
      i += 1;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

export interface SubjectParts {
  readonly namespace: string;
  readonly workload: string;
  /** null for events not emitted by a pod. */
  readonly pod: string | null;
  readonly kind: EventKind;
}

/** `drainwatch.v1.<namespace>.<workload>.<pod>.<kind>`; the kind may span tokens (`prestop.started`). */
export function buildSubject(parts: SubjectParts, root: string = DEFAULT_SUBJECT_ROOT): string {
  const pod = parts.pod === null ? NO_POD_TOKEN : escapeToken(parts.pod);
  return `${root}.${SUBJECT_VERSION}.${escapeToken(parts.namespace)}.${escapeToken(parts.workload)}.${pod}.${parts.kind}`;
}

const kindSet: ReadonlySet<string> = new Set(EVENT_KINDS);

export function parseSubject(subject: string, root: string = DEFAULT_SUBJECT_ROOT): SubjectParts {
  const rootTokens = root.split('.');
  const tokens = subject.split('.');
  const head = rootTokens.length;
  if (tokens.length < head + 5 || tokens.slice(0, head).join('.') !== root) {
    throw new InvalidSubjectError(
      'subject',
      `${JSON.stringify(subject)} is not under ${root}.${SUBJECT_VERSION}`,
    );
  }
  if (tokens[head] !== SUBJECT_VERSION) {
    throw new InvalidSubjectError('subject', `unsupported subject version ${JSON.stringify(tokens[head])}`);
  }
  const kind = tokens.slice(head + 4).join('.');
  if (!kindSet.has(kind))
    throw new InvalidSubjectError('subject', `unknown event kind ${JSON.stringify(kind)}`);
  const podToken = tokens[head + 3]!;
  return {
    namespace: unescapeToken(tokens[head + 1]!),
    workload: unescapeToken(tokens[head + 2]!),
    pod: podToken === NO_POD_TOKEN ? null : unescapeToken(podToken),
    kind: kind as EventKind,
  };
}

/** The wildcard a stream or consumer uses to take every drainwatch event under `root`. */
export function streamSubjects(root: string = DEFAULT_SUBJECT_ROOT): string {
  return `${root}.${SUBJECT_VERSION}.>`;
}
