import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { type ZodError, z } from 'zod';
import { ScenarioError } from './errors.js';

// The probe scenario of docs/architecture.md §3: how a synthetic user logs in, proves who it is, what it asks for,
// and where its WebSocket lives. Unknown keys are refused so a typo is an error, not a silent default.

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
const path = z.string().regex(/^\//, 'expected a path starting with /');
const method = z.enum(METHODS);
const sessionMode = z
  .string()
  .regex(/^(cookie|bearer:[A-Za-z0-9_.-]+)$/, 'expected "cookie" or "bearer:<json field>"');

const loginSchema = z.strictObject({
  method: method.default('POST'),
  path: path.default('/login'),
  body: z.record(z.string(), z.unknown()).default({ user: '{{user}}' }),
  session: sessionMode.default('cookie'),
  /** The app's session cookie, so it is never mistaken for an entry point's affinity cookie. */
  cookie: z.string().min(1).optional(),
});

const identitySchema = z.strictObject({
  path: path.default('/whoami'),
  expect: z.record(z.string(), z.string()).default({ user: '{{user}}' }),
});

const trafficSchema = z.strictObject({
  path,
  method: method.default('GET'),
  weight: z.number().positive().default(1),
  body: z.record(z.string(), z.unknown()).optional(),
});

/** How the probe talks on its WebSocket (docs/probe.md, "WebSocket patterns"); absent = `ping`. */
export const WEBSOCKET_PATTERNS = ['ping', 'echo', 'request', 'subscribe', 'hold'] as const;
export type WebSocketPattern = (typeof WEBSOCKET_PATTERNS)[number];

/** A message the probe sends: a string, or a JSON object sent as JSON; `{{…}}` filled in every string. */
const template = z.union([z.string().min(1), z.record(z.string(), z.unknown())]);
/** The one path grammar of the scenario: dotted keys (`data.id`), as for `bearer:<field>` (fieldAt). */
const dottedPath = z
  .string()
  .regex(/^[^.\s]+(\.[^.\s]+)*$/, 'expected a dotted path to a JSON field (data.id)');

/** Which fields each pattern takes; the first listed are required. */
const PATTERN_FIELDS: Record<WebSocketPattern, { required: string[]; optional: string[] }> = {
  ping: { required: [], optional: [] },
  echo: { required: [], optional: ['message'] },
  request: { required: ['message', 'replyId'], optional: [] },
  subscribe: { required: ['subscribe', 'sequence'], optional: ['resume'] },
  hold: { required: [], optional: [] },
};
const PLACEHOLDER: Record<string, string> = { message: '{{id}}', resume: '{{lastId}}' };

const websocketSchema = z
  .strictObject({
    path: path.default('/ws'),
    pattern: z.enum(WEBSOCKET_PATTERNS).optional(),
    /** echo, request: the message; `{{id}}` is the correlation id, `{{user}}` the session's user. */
    message: template.optional(),
    /** request: where the reply carries the correlation id. */
    replyId: dottedPath.optional(),
    /** subscribe: sent on every new connection (unless `resume` is sent instead). */
    subscribe: template.optional(),
    /** subscribe: where a push carries its sequence number (an integer, per session). */
    sequence: dottedPath.optional(),
    /** subscribe: sent instead of `subscribe` after a reconnect, `{{lastId}}` = the last sequence seen. */
    resume: template.optional(),
  })
  .superRefine((ws, ctx) => {
    const pattern = ws.pattern ?? 'ping';
    const fields = PATTERN_FIELDS[pattern];
    for (const key of ['message', 'replyId', 'subscribe', 'sequence', 'resume'] as const) {
      const given = ws[key] !== undefined;
      if (given && !fields.required.includes(key) && !fields.optional.includes(key))
        ctx.addIssue({ code: 'custom', path: [key], message: `not used by pattern ${pattern}` });
      else if (!given && fields.required.includes(key))
        ctx.addIssue({ code: 'custom', path: [key], message: `required by pattern ${pattern}` });
      else if (given && PLACEHOLDER[key] && !JSON.stringify(ws[key]).includes(PLACEHOLDER[key]!))
        ctx.addIssue({ code: 'custom', path: [key], message: `must contain ${PLACEHOLDER[key]}` });
    }
  });
export type WebSocketScenario = z.infer<typeof websocketSchema>;

/** A Server-Sent Events stream (HTML Living Standard §9.2) kept instead of a WebSocket. */
const sseSchema = z.strictObject({
  path: path.default('/events'),
  /** Event types counted (the `event:` field; `message` when the server names none). */
  events: z.array(z.string().min(1)).min(1).default(['message']),
});
export type SseScenario = z.infer<typeof sseSchema>;

/** A Socket.IO connection kept instead of a WebSocket: an event whose acknowledgement is the reply. */
const socketIoSchema = z.strictObject({
  /** Engine.IO's request path on the server. */
  path: path.default('/socket.io'),
  namespace: path.default('/'),
  /** In order: `polling` first upgrades to `websocket` (the client's default). */
  transports: z
    .array(z.enum(['polling', 'websocket']))
    .min(1)
    .default(['polling', 'websocket']),
  /** The event emitted with an acknowledgement callback; null: none (a feed checked by `push` only). */
  event: z.string().min(1).nullable().default('ping'),
  /** Its payload; `{{id}}` and `{{user}}` filled in. */
  message: template.default({ id: '{{id}}' }),
  /** The server's pushes, checked for gaps and duplicates across reconnects like a `subscribe`. */
  push: z
    .strictObject({
      event: z.string().min(1),
      /** Where the push's first argument carries its sequence number (an integer, per session). */
      sequence: dottedPath,
    })
    .optional(),
  /**
   * The handshake's `auth` payload, rendered at every connect: `{{user}}`, and `{{lastId}}` = the
   * highest push sequence seen ("" before the first), for an app that replays what came after it.
   */
  auth: z.record(z.string(), z.unknown()).optional(),
});
export type SocketIoScenario = z.infer<typeof socketIoSchema>;

/**
 * gRPC sessions instead of HTTP ones (docs/grpc.md): unary calls checked for the caller's identity
 * and a server stream checked for sequence gaps. Method names are the proto's (`Get`), request
 * fields the proto-loader's camelCase names; `{{user}}` is filled in every string.
 */
const grpcSchema = z.strictObject({
  /** The .proto file, relative to the working directory. */
  proto: z.string().min(1),
  /** Fully qualified service name (`package.Service`). */
  service: z.string().regex(/^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+$/, 'expected package.Service'),
  /** Metadata sent on every call; the token that says who the caller is. */
  metadata: z.record(z.string().regex(/^[a-z0-9_.-]+$/), z.string()).default({
    authorization: 'Bearer user-{{user}}',
  }),
  unary: z.strictObject({
    method: z.string().min(1),
    request: z.record(z.string(), z.unknown()).default({}),
    /** Reply fields that must equal these values on every pod (identity check). */
    expect: z.record(z.string(), z.string()).default({ user: 'user-{{user}}' }),
    /** The reply field naming the pod that answered (skew, per-pod counts). */
    pod: dottedPath.optional(),
  }),
  stream: z
    .strictObject({
      method: z.string().min(1),
      request: z.record(z.string(), z.unknown()).default({}),
      /** The message field carrying the session's sequence number. */
      sequence: dottedPath,
      /** The request field set to the next sequence number wanted when the stream is reopened. */
      resume: z.string().min(1).optional(),
      pod: dottedPath.optional(),
    })
    .optional(),
});
export type GrpcScenario = z.infer<typeof grpcSchema>;

const stickySchema = z.strictObject({
  /** Cookie names (case-insensitive) that an entry point sets to pin a client to a pod. */
  cookies: z.array(z.string().min(1)).default([]),
});

export const scenarioSchema = z.strictObject({
  login: loginSchema.default(() => loginSchema.parse({})),
  identity: identitySchema.default(() => identitySchema.parse({})),
  traffic: z
    .array(trafficSchema)
    .min(1)
    .default([{ path: '/api/quote', method: 'GET', weight: 1 }]),
  websocket: websocketSchema.nullable().default({ path: '/ws' }),
  sticky: stickySchema.default({ cookies: [] }),
  /** Absent: no SSE. Given, the live sessions keep this stream and `websocket` must be null. */
  sse: sseSchema.optional(),
  /** Absent: no Socket.IO. Given, the live sessions keep this connection and `websocket` must be null. */
  socketio: socketIoSchema.optional(),
  /** Absent: HTTP sessions. Given, every session speaks gRPC and `websocket` must be null. */
  grpc: grpcSchema.optional(),
});

export type Scenario = z.infer<typeof scenarioSchema>;
export type TrafficRoute = Scenario['traffic'][number];

/** Fits the example app of the rehearsal: cookie sessions, /whoami, /api/quote and /ws. */
export const DEFAULT_SCENARIO: Scenario = Object.freeze(scenarioSchema.parse({}));

function describeIssue(issue: ZodError['issues'][number]): string {
  switch (issue.code) {
    case 'invalid_value':
      return `expected one of ${issue.values.map(String).join(', ')}`;
    case 'unrecognized_keys':
      return `unknown field (known: see DEFAULT_SCENARIO in docs/probe.md)`;
    case 'invalid_type':
      return `expected ${issue.expected}`;
    default:
      return issue.message;
  }
}

/** Validates an already-parsed scenario object; errors name the field (`scenario.login.method`). */
export function parseScenario(raw: unknown): Scenario {
  const given = (raw ?? {}) as Record<string, unknown>;
  // An SSE scenario that says nothing of WebSockets has none (the default /ws is for the example).
  const input =
    given &&
    typeof given === 'object' &&
    (given.sse !== undefined || given.socketio !== undefined || given.grpc !== undefined) &&
    !('websocket' in given)
      ? { ...given, websocket: null }
      : given;
  const parsed = scenarioSchema.safeParse(input);
  if (parsed.success) {
    const live = ['websocket', 'sse', 'socketio', 'grpc'].filter((k) => parsed.data[k as 'sse']);
    if (live.length > 1)
      throw new ScenarioError(
        `scenario.${live[1]}`,
        `a live session keeps one connection: ${live.join(' and ')} given (set websocket: null)`,
      );
    return parsed.data;
  }
  const issue = parsed.error.issues[0]!;
  const keys = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') keys.push(issue.keys[0]!);
  const field = ['scenario', ...keys].join('.');
  throw new ScenarioError(field, describeIssue(issue));
}

/** Reads and validates a scenario YAML file; without a path, the default scenario. */
export async function loadScenario(file?: string): Promise<Scenario> {
  if (!file) return DEFAULT_SCENARIO;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ScenarioError('scenario', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new ScenarioError('scenario', `${file} is not YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  try {
    return parseScenario(raw);
  } catch (err) {
    if (err instanceof ScenarioError)
      throw new ScenarioError(err.field, `${err.message.slice(err.field.length + 2)} (in ${file})`);
    throw err;
  }
}

/** Replaces `{{user}}` in every string of a JSON-like value. */
export function fillTemplate<T>(value: T, user: string): T {
  return fillPlaceholders(value, { user });
}

/** Replaces each `{{name}}` of `vars` in every string value of a JSON-like value. */
export function fillPlaceholders<T>(value: T, vars: Readonly<Record<string, string>>): T {
  if (typeof value === 'string') {
    let s: string = value;
    for (const [k, v] of Object.entries(vars)) s = s.replaceAll(`{{${k}}}`, v);
    return s as T;
  }
  if (Array.isArray(value)) return value.map((v) => fillPlaceholders(v, vars)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fillPlaceholders(v, vars)])) as T;
  }
  return value;
}

/** Reads a dotted field (`data.token`) out of a parsed JSON body. */
export function fieldAt(body: unknown, dotted: string): unknown {
  let cur: unknown = body;
  for (const key of dotted.split('.')) {
    if (!cur || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}
