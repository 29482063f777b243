import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SCENARIO,
  fieldAt,
  fillTemplate,
  loadScenario,
  ProbeConfigError,
  parseScenario,
  resolveProbeConfig,
  ScenarioError,
  websocketCount,
} from '../../probe/index.js';

async function scenarioFile(text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'probe-scenario-'));
  const file = join(dir, 'scenario.yaml');
  await writeFile(file, text);
  return file;
}

describe('probe scenario', () => {
  it('defaults fit the example app of docs/architecture.md §3', async () => {
    expect(await loadScenario()).toEqual(DEFAULT_SCENARIO);
    expect(DEFAULT_SCENARIO).toEqual({
      login: { method: 'POST', path: '/login', body: { user: '{{user}}' }, session: 'cookie' },
      identity: { path: '/whoami', expect: { user: '{{user}}' } },
      traffic: [{ path: '/api/quote', method: 'GET', weight: 1 }],
      websocket: { path: '/ws' },
      sticky: { cookies: [] },
    });
  });

  it('reads the YAML of the design, bearer sessions included, and fills defaults', async () => {
    const file = await scenarioFile(
      [
        'login: { method: POST, path: /auth, body: { name: "{{user}}" }, session: "bearer:data.token" }',
        'identity: { path: /me, expect: { name: "{{user}}" } }',
        'traffic: [ { path: /a, weight: 3 }, { path: /b, method: POST, body: { q: 1 } } ]',
        'websocket: null',
      ].join('\n'),
    );
    const s = await loadScenario(file);
    expect(s.login.session).toBe('bearer:data.token');
    expect(s.traffic).toEqual([
      { path: '/a', method: 'GET', weight: 3 },
      { path: '/b', method: 'POST', weight: 1, body: { q: 1 } },
    ]);
    expect(s.websocket).toBeNull();
  });

  it.each([
    [{ login: { method: 'FETCH' } }, 'scenario.login.method', /expected one of GET, POST/],
    [{ login: { session: 'jwt' } }, 'scenario.login.session', /bearer:<json field>/],
    [{ traffic: [] }, 'scenario.traffic', /./],
    [{ traffic: [{ path: 'api' }] }, 'scenario.traffic.0.path', /starting with \//],
    [{ traffic: [{ path: '/a', weight: 0 }] }, 'scenario.traffic.0.weight', /./],
    [{ identity: { pth: '/me' } }, 'scenario.identity.pth', /unknown field/],
  ])('refuses %j naming the field', (raw, field, message) => {
    let err: unknown;
    try {
      parseScenario(raw);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ScenarioError);
    expect((err as ScenarioError).field).toBe(field);
    expect((err as ScenarioError).message).toMatch(message);
    expect((err as ScenarioError).code).toBe('config-scenario');
  });

  it('names the file when it is missing or not YAML', async () => {
    await expect(loadScenario('/nonexistent/s.yaml')).rejects.toThrow(/cannot read \/nonexistent\/s\.yaml/);
    await expect(loadScenario(await scenarioFile('login: [unclosed'))).rejects.toThrow(/is not YAML/);
    await expect(loadScenario(await scenarioFile('login: { method: FETCH }'))).rejects.toThrow(
      /^scenario\.login\.method: expected one of .* \(in .*scenario\.yaml\)$/,
    );
  });

  it('templates the user into nested values and reads dotted fields', () => {
    expect(fillTemplate({ a: '{{user}}', b: ['x-{{user}}', 3] }, 'ann')).toEqual({
      a: 'ann',
      b: ['x-ann', 3],
    });
    expect(fieldAt({ data: { token: 't' } }, 'data.token')).toBe('t');
    expect(fieldAt({ data: 1 }, 'data.token')).toBeUndefined();
  });
});

describe('probe config', () => {
  it('takes WebSockets as a count, a fraction or a percentage', () => {
    expect(websocketCount(2000, 10_000)).toBe(2000);
    expect(websocketCount(0.2, 10_000)).toBe(2000);
    expect(websocketCount('20%', 10_000)).toBe(2000);
    expect(websocketCount('0', 10)).toBe(0);
    expect(() => websocketCount('many', 10)).toThrow(ProbeConfigError);
  });

  it('applies defaults and refuses contradictions naming the setting', () => {
    const c = resolveProbeConfig({ target: 'http://127.0.0.1:8080', sessions: 10 });
    expect(c.websockets).toBe(2);
    expect(c.subjectRoot).toBe('drainwatch');
    expect(c.users(3).name).toBe(`probe-${c.runId}-3`);
    const noWs = { ...DEFAULT_SCENARIO, websocket: null };
    expect(resolveProbeConfig({ target: 'http://h', sessions: 10, scenario: noWs }).websockets).toBe(0);
    expect(() =>
      resolveProbeConfig({ target: 'http://h', sessions: 10, scenario: noWs, websockets: 3 }),
    ).toThrow(/^websockets: 3 requested but the scenario has no websocket section$/);
    expect(() => resolveProbeConfig({ target: 'http://h', sessions: 2, websockets: 3 })).toThrow(
      /^websockets:/,
    );
    expect(() => resolveProbeConfig({ target: 'ftp://h', sessions: 1 })).toThrow(/^target:/);
    expect(() => resolveProbeConfig({ target: 'http://h', sessions: 0 })).toThrow(/^sessions:/);
    expect(() => resolveProbeConfig({ target: 'http://h', sessions: 1, ratePerSession: 0 })).toThrow(
      /^ratePerSession:/,
    );
  });
});

describe('probe scenario: grpc', () => {
  const grpc = { proto: 'q.proto', service: 'quote.Quotes', unary: { method: 'Get' } };
  it('takes the defaults: token metadata, identity from the reply, no WebSocket', () => {
    const s = parseScenario({ grpc });
    expect(s.websocket).toBeNull();
    expect(s.grpc?.metadata).toEqual({ authorization: 'Bearer user-{{user}}' });
    expect(s.grpc?.unary.expect).toEqual({ user: 'user-{{user}}' });
    expect(s.grpc?.stream).toBeUndefined();
  });
  it('names the field at fault', () => {
    expect(() => parseScenario({ grpc: { ...grpc, service: 'Quotes' } })).toThrow(
      /^scenario\.grpc\.service: expected package\.Service$/,
    );
    expect(() => parseScenario({ grpc: { ...grpc, stream: { method: 'Stream' } } })).toThrow(
      /^scenario\.grpc\.stream\.sequence: /,
    );
    expect(() => parseScenario({ grpc, websocket: { path: '/ws' } })).toThrow(
      /^scenario\.grpc: a live session keeps one connection: websocket and grpc given/,
    );
  });
});

describe('probe scenario: socketio', () => {
  it('takes the example feed’s scenarios: no ack event, pushes by sequence, auth with {{lastId}}', async () => {
    for (const file of ['scenario.yaml', 'scenario-polling.yaml']) {
      const s = await loadScenario(join('examples/chat-feed', file));
      expect(s.websocket).toBeNull();
      expect(s.socketio).toMatchObject({
        path: '/socket.io',
        namespace: '/',
        event: null,
        push: { event: 'chat', sequence: 'seq' },
        auth: { serverOffset: '{{lastId}}' },
      });
    }
  });

  it('defaults to the acknowledged ping without pushes, and names a bad field', () => {
    expect(parseScenario({ socketio: {} }).socketio).toEqual({
      path: '/socket.io',
      namespace: '/',
      transports: ['polling', 'websocket'],
      event: 'ping',
      message: { id: '{{id}}' },
    });
    expect(() => parseScenario({ socketio: { push: { event: 'chat', sequence: 'a..b' } } })).toThrow(
      /^scenario\.socketio\.push\.sequence/,
    );
    expect(() => parseScenario({ socketio: { push: { event: 'chat' } } })).toThrow(
      /^scenario\.socketio\.push\.sequence/,
    );
  });
});
