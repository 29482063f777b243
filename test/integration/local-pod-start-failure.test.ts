import { describe, expect, it } from 'vitest';
import { createLocalCluster, createPassthroughLauncher } from '../../cluster/local/index.js';

// An app that dies at start is shown with its last stderr lines (a real Node.js process that
// throws), not cut to its last line (`Node.js v20…`).

const workload = { namespace: 'rehearsal', name: 'crash' };

describe('an app that dies at start', () => {
  it('fails the pod start with its last 20 stderr lines, the real error among them', async () => {
    const script = [
      "for (let i = 1; i <= 30; i++) console.error('noise ' + i);",
      "throw new Error('cannot read config.json: ENOENT');",
    ].join(' ');
    const cluster = createLocalCluster({
      workload,
      command: `exec "${process.execPath}" -e "${script}"`,
      sidecar: createPassthroughLauncher({ prestopMs: 0 }),
      replicas: 1,
      propagation: { minMs: 0, maxMs: 0 },
      graceMs: 2000,
      seed: 3,
    });
    let err: unknown;
    try {
      await cluster.start();
    } catch (e) {
      err = e;
    } finally {
      await cluster.stop();
    }
    const message = (err as Error).message;
    expect(message).toMatch(/the app exited \(1\) before it was ready; its last stderr lines:\n/);
    const quoted = message.split('its last stderr lines:\n')[1]!.split('\n');
    expect(quoted).toHaveLength(20);
    expect(message).toContain('Error: cannot read config.json: ENOENT');
    expect(quoted.at(-1)).toMatch(/^ {4}Node\.js v\d+/);
    expect(message).not.toContain('noise 10\n');
  });
});
