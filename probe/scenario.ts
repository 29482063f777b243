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

const websocketSchema = z.strictObject({ path: path.default('/ws') });

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
  const parsed = scenarioSchema.safeParse(raw ?? {});
  if (parsed.success) return parsed.data;
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
  if (typeof value === 'string') return value.replaceAll('{{user}}', user) as T;
  if (Array.isArray(value)) return value.map((v) => fillTemplate(v, user)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fillTemplate(v, user)])) as T;
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
