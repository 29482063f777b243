import { describe, expect, it } from 'vitest';
import {
  createPassthroughLauncher,
  createRng,
  LocalClusterConfigError,
  parsePropagation,
  resolveLocalClusterConfig,
  samplePropagation,
} from '../../cluster/local/index.js';

describe('propagation', () => {
  it('parses fixed, ranged and instant delays', () => {
    expect(parsePropagation('2s')).toEqual({ minMs: 2000, maxMs: 2000 });
    expect(parsePropagation('1-5s')).toEqual({ minMs: 1000, maxMs: 5000 });
    expect(parsePropagation('200ms-1s')).toEqual({ minMs: 200, maxMs: 1000 });
    expect(parsePropagation('300-800ms')).toEqual({ minMs: 300, maxMs: 800 });
    expect(parsePropagation('0')).toEqual({ minMs: 0, maxMs: 0 });
  });

  it('rejects nonsense, naming the setting', () => {
    expect(() => parsePropagation('soon')).toThrow(LocalClusterConfigError);
    expect(() => parsePropagation('5-1s')).toThrow(/propagation/);
  });

  it('draws within the range, and the same seed draws the same delays', () => {
    const range = { minMs: 1000, maxMs: 5000 };
    const a = createRng(42);
    const b = createRng(42);
    const drawsA = Array.from({ length: 50 }, () => samplePropagation(range, a));
    const drawsB = Array.from({ length: 50 }, () => samplePropagation(range, b));
    expect(drawsA).toEqual(drawsB);
    for (const d of drawsA) expect(d).toBeGreaterThanOrEqual(1000);
    for (const d of drawsA) expect(d).toBeLessThanOrEqual(5000);
    expect(new Set(drawsA).size).toBeGreaterThan(10);
    const other = Array.from({ length: 50 }, () => samplePropagation(range, createRng(7)));
    expect(other).not.toEqual(drawsA.slice(0, 1));
  });
});

describe('local cluster config', () => {
  const sidecar = createPassthroughLauncher();
  it('fills in the defaults', () => {
    const c = resolveLocalClusterConfig({ command: 'node app.js', sidecar });
    expect(c.replicas).toBe(3);
    expect(c.maxSurge).toBe(1);
    expect(c.maxUnavailable).toBe(0);
    expect(c.propagation).toEqual({ minMs: 1000, maxMs: 5000 });
    expect(c.readyPath).toBe('/healthz');
  });

  it('names the setting that breaks a cross-field rule', () => {
    expect(() =>
      resolveLocalClusterConfig({ command: 'x', sidecar, maxSurge: 0, maxUnavailable: 0 }),
    ).toThrow(/^max-surge:/);
    expect(() => resolveLocalClusterConfig({ command: ' ', sidecar })).toThrow(/^app:/);
    expect(() => resolveLocalClusterConfig({ command: 'x', sidecar, replicas: 0 })).toThrow(/^replicas:/);
    expect(() => resolveLocalClusterConfig({ command: 'x', sidecar, readyPath: 'healthz' })).toThrow(
      /^ready-path:/,
    );
  });
});
