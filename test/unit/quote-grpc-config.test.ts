import { describe, expect, it } from 'vitest';
import { readQuoteGrpcConfig } from '../../examples/quote-grpc/config.js';
import { InvalidValueError } from '../../lib/values.js';

describe('quote-grpc config: MAX_CONNECTION_AGE', () => {
  it('reads the duration grammar (a bare number is seconds), unset by default', () => {
    expect(readQuoteGrpcConfig([], {}).maxConnectionAgeMs).toBeUndefined();
    expect(readQuoteGrpcConfig([], { MAX_CONNECTION_AGE: '5m' }).maxConnectionAgeMs).toBe(300_000);
    expect(readQuoteGrpcConfig([], { MAX_CONNECTION_AGE: '90' }).maxConnectionAgeMs).toBe(90_000);
  });

  it('refuses a value that is not a duration, naming the variable', () => {
    expect(() => readQuoteGrpcConfig([], { MAX_CONNECTION_AGE: 'soon' })).toThrow(InvalidValueError);
    expect(() => readQuoteGrpcConfig([], { MAX_CONNECTION_AGE: 'soon' })).toThrow(/MAX_CONNECTION_AGE/);
  });
});
