import { describe, expect, it } from 'vitest';
import { decidePortProtocol } from '../../kube/index.js';

// How inject decides whether the agent parses HTTP/1.x on a port, only tunnels it, or stays out.

describe('decidePortProtocol', () => {
  const port = (n: number, extra: Partial<Parameters<typeof decidePortProtocol>[0]> = {}) =>
    decidePortProtocol({ port: n, servicePorts: [], ...extra }).protocol;

  it('an unknown port with no hints is HTTP', () => {
    expect(port(8080)).toBe('http');
  });

  it('well-known ports of protocols that are not HTTP/1.x are tunnelled', () => {
    for (const n of [4222, 6379, 5432, 3306, 27017, 9092, 11211]) expect(port(n), String(n)).toBe('tcp');
  });

  it('Service appProtocol decides before names and numbers', () => {
    const svc = (appProtocol: string) => [{ service: 's', name: 'http', appProtocol }];
    expect(port(8080, { servicePorts: svc('grpc') })).toBe('tcp');
    expect(port(8080, { servicePorts: svc('kubernetes.io/h2c') })).toBe('tcp');
    expect(port(8080, { servicePorts: svc('kubernetes.io/wss') })).toBe('tcp');
    expect(port(6379, { servicePorts: svc('http') })).toBe('http');
    expect(port(6379, { servicePorts: svc('kubernetes.io/ws') })).toBe('http');
  });

  it('port names: grpc*, h2c*, http2*, https are tunnelled; http*, web are parsed', () => {
    expect(port(8080, { name: 'grpc-api' })).toBe('tcp');
    expect(port(8080, { servicePorts: [{ service: 's', name: 'h2c' }] })).toBe('tcp');
    expect(port(8443, { name: 'https' })).toBe('tcp');
    expect(port(4222, { name: 'http-metrics' })).toBe('http');
    expect(port(6379, { name: 'web' })).toBe('http');
  });

  it('the annotation overrides everything; an unknown value is reported and ignored', () => {
    expect(port(4222, { annotation: 'http' })).toBe('http');
    expect(port(8080, { annotation: 'TCP' })).toBe('tcp');
    expect(port(8080, { annotation: 'skip' })).toBe('skip');
    const bad = decidePortProtocol({ port: 4222, servicePorts: [], annotation: 'udp' });
    expect(bad).toMatchObject({ protocol: 'tcp', invalidAnnotation: 'udp' });
  });
});
