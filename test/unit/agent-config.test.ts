import { describe, expect, it } from 'vitest';
import { MAX_REQUEST_BATCH_MS } from '../../agent/config.js';
import { AGENT_DEFAULTS, AgentConfigError, loadAgentConfig, workloadOfPod } from '../../agent/index.js';
import { AGENT_SETTINGS } from '../../contract/index.js';
import { formatDurationMs, InvalidSettingsError, tryParseHostPort } from '../../lib/values.js';

describe('agent config', () => {
  it('uses the defaults of docs/architecture.md when nothing is set', () => {
    const c = loadAgentConfig({}, { POD_NAME: 'web-7d9f8b6c5d-x2x9q' });
    expect(c.listen).toEqual({ host: '0.0.0.0', port: 15080 });
    expect(c.upstream).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(c.admin).toEqual({ host: '0.0.0.0', port: 15021 });
    expect(c.natsUrl).toBe(AGENT_DEFAULTS.natsUrl);
    expect(c.prestop).toEqual({ mode: 'adaptive' });
    expect(c.graceSeconds).toBe(30);
    expect(c.prestopMinMs).toBe(3000);
    expect(c.prestopQuietMs).toBe(2000);
    expect(c.prestopMaxMs).toBe(30_000 - AGENT_DEFAULTS.drainBudgetMs);
    expect(c.bufferSize).toBe(10_000);
    expect(c.summaryIntervalMs).toBe(5000);
    expect(c.keepAliveTimeoutMs).toBe(3_600_000);
    expect(c.maxResponseHeaderBytes).toBe(65_536);
    expect(c.subjectRoot).toBe('drainwatch');
    expect(c.identity).toEqual({ pod: 'web-7d9f8b6c5d-x2x9q', namespace: 'default', workload: 'web' });
    expect(c.otlpEndpoint).toBeUndefined();
  });

  it('reads the client keep-alive timeout, flag over environment, and refuses less than a second', () => {
    const env = { POD_NAME: 'p', DRAINWATCH_KEEPALIVE_TIMEOUT: '65s' };
    expect(loadAgentConfig({}, env).keepAliveTimeoutMs).toBe(65_000);
    expect(loadAgentConfig({ keepaliveTimeout: '90' }, env).keepAliveTimeoutMs).toBe(90_000);
    expect(() => loadAgentConfig({}, { POD_NAME: 'p', DRAINWATCH_KEEPALIVE_TIMEOUT: '500ms' })).toThrow(
      AgentConfigError,
    );
    expect(() => loadAgentConfig({}, { POD_NAME: 'p', DRAINWATCH_KEEPALIVE_TIMEOUT: '500ms' })).toThrow(
      /DRAINWATCH_KEEPALIVE_TIMEOUT \(--keepalive-timeout\)/,
    );
  });

  it('reads the request batching window, flag over environment; 0 turns it off, over 1s is refused', () => {
    const env = { POD_NAME: 'p', DRAINWATCH_REQUEST_BATCH: '250ms' };
    expect(loadAgentConfig({}, { POD_NAME: 'p' }).requestBatchMs).toBe(100);
    expect(loadAgentConfig({}, env).requestBatchMs).toBe(250);
    expect(loadAgentConfig({ requestBatch: '0' }, env).requestBatchMs).toBe(0);
    expect(() => loadAgentConfig({ requestBatch: '2s' }, env)).toThrow(AgentConfigError);
    expect(() => loadAgentConfig({ requestBatch: '2s' }, env)).toThrow(/--request-batch.*at most 1000ms/);
  });

  it('takes a batching window up to 1s inclusive, and its help says so', () => {
    const env = { POD_NAME: 'p' };
    for (const [v, ms] of [
      ['1s', 1000],
      ['1000ms', 1000],
      ['1', 1000],
      ['0ms', 0],
      ['0.05', 50],
    ] as const) {
      expect(loadAgentConfig({ requestBatch: v }, env).requestBatchMs, v).toBe(ms);
    }
    // A bare number is seconds: `100` is 100 s, refused, not 100 ms.
    for (const v of ['1001ms', '100', '-5', 'garbage', '1.5s']) {
      expect(() => loadAgentConfig({ requestBatch: v }, env), v).toThrow(/--request-batch/);
    }
    expect(AGENT_SETTINGS.requestBatch.help).toContain(`at most ${formatDurationMs(MAX_REQUEST_BATCH_MS)}`);
  });

  it('reads the response head limit in bytes, flag over environment, and refuses less than 1 KiB', () => {
    const env = { POD_NAME: 'p', DRAINWATCH_MAX_RESPONSE_HEADER_BYTES: '131072' };
    expect(loadAgentConfig({}, env).maxResponseHeaderBytes).toBe(131_072);
    expect(loadAgentConfig({ maxResponseHeaderBytes: '32768' }, env).maxResponseHeaderBytes).toBe(32_768);
    for (const bad of ['512', '64k', '-1']) {
      expect(() => loadAgentConfig({}, { POD_NAME: 'p', DRAINWATCH_MAX_RESPONSE_HEADER_BYTES: bad })).toThrow(
        /DRAINWATCH_MAX_RESPONSE_HEADER_BYTES \(--max-response-header-bytes\)/,
      );
    }
  });

  it('takes a flag over the environment over the default', () => {
    const env = {
      DRAINWATCH_LISTEN: '127.0.0.1:0',
      DRAINWATCH_PRESTOP: 'fixed:5',
      DRAINWATCH_GRACE_SECONDS: '60',
    };
    const c = loadAgentConfig({ listen: '[::1]:9000' }, env);
    expect(c.listen).toEqual({ host: '::1', port: 9000 });
    expect(c.prestop).toEqual({ mode: 'fixed', fixedMs: 5000 });
    expect(c.graceSeconds).toBe(60);
    expect(loadAgentConfig({}, env).listen).toEqual({ host: '127.0.0.1', port: 0 });
  });

  it('reads identity, pid, OTLP endpoint and durations from the environment', () => {
    const c = loadAgentConfig(
      {},
      {
        POD_NAME: 'api-0',
        POD_NAMESPACE: 'shop',
        DRAINWATCH_WORKLOAD: 'api',
        POD_IP: '10.0.0.7',
        NODE_NAME: 'node-a',
        DRAINWATCH_APP_PID: '4242',
        DRAINWATCH_PRESTOP_MIN: '500ms',
        DRAINWATCH_PRESTOP_MAX: '10s',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
      },
    );
    expect(c.identity).toEqual({
      pod: 'api-0',
      namespace: 'shop',
      workload: 'api',
      podIp: '10.0.0.7',
      nodeName: 'node-a',
    });
    expect(c.appPid).toBe(4242);
    expect(c.prestopMinMs).toBe(500);
    expect(c.prestopMaxMs).toBe(10_000);
    expect(c.otlpEndpoint).toBe('http://127.0.0.1:4318');
  });

  it.each([
    [{ DRAINWATCH_LISTEN: 'not-an-address' }, 'DRAINWATCH_LISTEN'],
    [{ DRAINWATCH_UPSTREAM: '127.0.0.1:99999' }, 'DRAINWATCH_UPSTREAM'],
    [{ DRAINWATCH_ADMIN: '1.2.3.4' }, 'DRAINWATCH_ADMIN'],
    [{ NATS_URL: 'http://x' }, 'NATS_URL'],
    [{ DRAINWATCH_PRESTOP: 'sometimes' }, 'DRAINWATCH_PRESTOP'],
    [{ DRAINWATCH_PRESTOP: 'fixed:40' }, 'DRAINWATCH_PRESTOP'],
    [{ DRAINWATCH_PRESTOP_MIN: '31s' }, 'DRAINWATCH_PRESTOP_MIN'],
    [{ DRAINWATCH_PRESTOP_MIN: '5s', DRAINWATCH_PRESTOP_MAX: '4s' }, 'DRAINWATCH_PRESTOP_MAX'],
    [{ DRAINWATCH_GRACE_SECONDS: 'soon' }, 'DRAINWATCH_GRACE_SECONDS'],
    [{ DRAINWATCH_BUFFER_SIZE: '0' }, 'DRAINWATCH_BUFFER_SIZE'],
    [{ DRAINWATCH_SUBJECT_ROOT: 'a..b' }, 'DRAINWATCH_SUBJECT_ROOT'],
    // The OTLP variables are read by lib/otlp.ts readOtlpEnv, as the collector reads them.
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: '127.0.0.1:4318' }, 'OTEL_EXPORTER_OTLP_ENDPOINT'],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'grpc://x' }, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'],
    [{ OTEL_EXPORTER_OTLP_PROTOCOL: 'thrift' }, 'OTEL_EXPORTER_OTLP_PROTOCOL'],
  ])('rejects %o with one line naming %s', (env, setting) => {
    let err: unknown;
    try {
      loadAgentConfig({}, env);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AgentConfigError);
    expect((err as AgentConfigError).code).toBe('config-invalid');
    expect((err as Error).message).toContain(setting);
    expect((err as Error).message).not.toContain('\n');
  });

  it('parses addresses and strips Deployment hashes from pod names', () => {
    expect(tryParseHostPort(':8080')).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(tryParseHostPort('localhost:0')).toEqual({ host: 'localhost', port: 0 });
    expect(tryParseHostPort('8080')).toBeUndefined();
    expect(workloadOfPod('checkout-5f7b8c9d4-abcde')).toBe('checkout');
    expect(workloadOfPod('laptop')).toBe('laptop');
  });

  it('names every bad setting at once, with its env and flag, one line each', () => {
    let err: unknown;
    try {
      loadAgentConfig(
        { listen: 'nowhere' },
        { DRAINWATCH_GRACE_SECONDS: '20', DRAINWATCH_PRESTOP: 'fixed:40', DRAINWATCH_LOG_LEVEL: 'loud' },
      );
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidSettingsError);
    expect((err as Error).message.split('\n')).toEqual([
      '3 invalid settings:',
      '  DRAINWATCH_LISTEN (--listen): expected host:port, got "nowhere"',
      '  DRAINWATCH_PRESTOP (--prestop): fixed wait 40s is above the grace period of 20s',
      expect.stringMatching(/^ {2}DRAINWATCH_LOG_LEVEL \(--log-level\): expected one of /),
    ]);
  });
});
