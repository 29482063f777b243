// The bench's trivial target: the example app's contract with no state (the session token is the
// user name), HTTP and WebSocket on one port. Runs in its own process so it never shares the
// probe's event loop. Prints its port on stdout, exits when its parent closes stdin.
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';

const POD = process.env.POD ?? 'bench-0';

function user(req) {
  const m = /(?:^|;\s*)sid=([^;]+)/.exec(req.headers.cookie ?? '');
  return m ? decodeURIComponent(m[1]) : undefined;
}

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const headers = { 'content-type': 'application/json', 'x-drainwatch-pod': POD };
    if (req.url === '/login') {
      const name = String(JSON.parse(Buffer.concat(chunks).toString() || '{}').user ?? '');
      headers['set-cookie'] = `sid=${encodeURIComponent(name)}; Path=/`;
      res.writeHead(200, headers).end(JSON.stringify({ user: name }));
      return;
    }
    const u = user(req);
    if (u === undefined) return res.writeHead(401, headers).end('{}');
    if (req.url === '/whoami') return res.writeHead(200, headers).end(JSON.stringify({ user: u }));
    res.writeHead(200, headers).end(JSON.stringify({ quote: 42 }));
  });
});
server.keepAliveTimeout = 60_000;
const wss = new WebSocketServer({ server, perMessageDeflate: false });
wss.on('headers', (h) => h.push(`x-drainwatch-pod: ${POD}`));
wss.on('connection', (ws) => {
  ws.on('message', (data) => {
    const msg = JSON.parse(data.toString());
    if (msg.type === 'ping') ws.send(`{"type":"ack","id":${JSON.stringify(msg.id)}}`);
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
