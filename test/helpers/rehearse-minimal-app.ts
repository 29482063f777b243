import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// A second app for `rehearse --app`, unrelated to the example: plain node:http, a stateless
// session (the user name in a cookie), other paths than the example's, no WebSocket, and a
// graceful SIGTERM. With its own scenario it proves `rehearse` runs any command.

const SOURCE = `
const http = require('node:http');
const server = http.createServer((req, res) => {
  const user = /(?:^|; )u=([^;]+)/.exec(req.headers.cookie || '')?.[1];
  if (req.method === 'POST' && req.url === '/signin') {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const name = JSON.parse(body || '{}').name;
      res.writeHead(200, { 'set-cookie': 'u=' + encodeURIComponent(name) + '; Path=/', 'content-type': 'application/json' });
      res.end(JSON.stringify({ name }));
    });
    return;
  }
  if (req.url === '/ready') return res.end('ok');
  if (!user) { res.writeHead(401); return res.end(); }
  if (req.url === '/me') { res.writeHead(200, { 'content-type': 'application/json' }); return res.end(JSON.stringify({ name: decodeURIComponent(user) })); }
  if (req.url === '/work') return setTimeout(() => res.end('done'), 3);
  res.writeHead(404); res.end();
});
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => { server.close(() => process.exit(0)); server.closeIdleConnections(); });
`;

const SCENARIO = `login: { method: POST, path: /signin, body: { name: "{{user}}" }, session: cookie }
identity: { path: /me, expect: { name: "{{user}}" } }
traffic: [ { path: /work, weight: 1 } ]
websocket: null
`;

export interface MinimalApp {
  /** The shell command for --app. */
  readonly command: string;
  /** The app's script, for commands that wrap it. */
  readonly file: string;
  readonly scenarioFile: string;
  readonly readyPath: string;
}

export function writeMinimalApp(tag: string): MinimalApp {
  const file = join(tmpdir(), `drainwatch-minimal-app-${tag}.cjs`);
  const scenarioFile = join(tmpdir(), `drainwatch-minimal-app-${tag}.yaml`);
  writeFileSync(file, SOURCE);
  writeFileSync(scenarioFile, SCENARIO);
  return { command: `exec "${process.execPath}" "${file}"`, file, scenarioFile, readyPath: '/ready' };
}
