import { describe, expect, it } from 'vitest';
import {
  checkVerifyConfig,
  DEFAULT_VERIFY_CONFIG,
  historyThreshold,
  VerifyConfigError,
} from '../../witness/index.js';

const base = { ...DEFAULT_VERIFY_CONFIG, namespace: 'shop', deployment: 'web', target: 'http://127.0.0.1:1' };

describe('verify gate from history', () => {
  it('p95 is the score 95% of past rollouts met (nearest rank)', () => {
    const scores = Array.from({ length: 20 }, (_, i) => 0.8 + i * 0.01); // 0.80 … 0.99
    expect(historyThreshold(scores, 'p95')).toBeCloseTo(0.8);
    expect(historyThreshold(scores, 'p50')).toBeCloseTo(0.89);
    expect(historyThreshold([1, 1, 1, 0.5, 1], 'p95')).toBe(0.5);
    expect(historyThreshold([1, 1, 1, 1, 1], 'p95')).toBe(1);
  });

  it('checks the settings, naming the flag', () => {
    expect(() => checkVerifyConfig(base)).not.toThrow();
    expect(() => checkVerifyConfig({ ...base, namespace: '' })).toThrow(/--namespace/);
    expect(() => checkVerifyConfig({ ...base, gateFromHistory: 'median' })).toThrow(VerifyConfigError);
    expect(() => checkVerifyConfig({ ...base, gateFromHistory: 'median' })).toThrow(/--gate-from-history/);
    expect(() => checkVerifyConfig({ ...base, gate: 2 })).toThrow(/--gate/);
  });
});
