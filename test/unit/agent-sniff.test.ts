import { describe, expect, it } from 'vitest';
import { loadAgentConfig } from '../../agent/index.js';
import { sniffProtocol } from '../../agent/proxy/index.js';

// What the agent makes of a connection's first bytes on its http port, and its protocol setting.

const b = (s: string | number[]) => (typeof s === 'string' ? Buffer.from(s, 'latin1') : Buffer.from(s));

describe('sniffProtocol', () => {
  it('HTTP/1.x request lines (and the empty lines allowed before one) are parsed', () => {
    for (const s of ['GET / HTTP/1.1\r\n', 'POST', 'PUT /x HTTP/1.0', 'PATCH /', '\r\nGET /', 'PRIX']) {
      expect(sniffProtocol(b(s)), s).toBe('http1');
    }
  });

  it('the HTTP/2 preface is not HTTP/1.x; a prefix of it waits for more bytes', () => {
    expect(sniffProtocol(b('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'))).toBe('other');
    expect(sniffProtocol(b('PRI * HTTP/2.0'))).toBe('other');
    expect(sniffProtocol(b('PRI * HT'))).toBe('more');
    expect(sniffProtocol(b('P'))).toBe('more');
  });

  it('TLS, binary and lower-case starts are tunnelled', () => {
    expect(sniffProtocol(b([0x16, 0x03, 0x01, 0x02, 0x00]))).toBe('other');
    expect(sniffProtocol(b([0x00, 0x01]))).toBe('other');
    expect(sniffProtocol(b('*1\r\n$4\r\nPING\r\n'))).toBe('other');
  });
});

describe('DRAINWATCH_PROTOCOL', () => {
  it('http by default; tcp from env or flag (flag first); anything else is refused', () => {
    expect(loadAgentConfig({}, {}).protocol).toBe('http');
    expect(loadAgentConfig({}, { DRAINWATCH_PROTOCOL: 'tcp' }).protocol).toBe('tcp');
    expect(loadAgentConfig({ protocol: 'http' }, { DRAINWATCH_PROTOCOL: 'tcp' }).protocol).toBe('http');
    expect(() => loadAgentConfig({}, { DRAINWATCH_PROTOCOL: 'udp' })).toThrow(
      /DRAINWATCH_PROTOCOL.*http or tcp/,
    );
  });
});
