import { connect } from 'node:net';

// HAProxy's runtime API over its unix stats socket: one command line per connection, the answer
// read until HAProxy closes it (the non-interactive mode of the management guide, §9.3).

export function runtimeCommand(socketPath: string, command: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect({ path: socketPath });
    let out = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no answer to "${command}" within ${timeoutMs} ms`));
    }, timeoutMs);
    timer.unref();
    sock.on('data', (c: Buffer) => {
      out += c.toString();
    });
    sock.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.once('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    sock.end(`${command}\n`);
  });
}

/** `show stat` as rows of named fields (the CSV header starts with `# `). */
export function parseShowStat(csv: string): Record<string, string>[] {
  const lines = csv.split('\n').filter((l) => l.trim() !== '');
  const header = lines[0]?.replace(/^# /, '').split(',') ?? [];
  return lines.slice(1).map((line) => {
    const cells = line.split(',');
    return Object.fromEntries(header.map((h, i) => [h, cells[i] ?? '']));
  });
}
