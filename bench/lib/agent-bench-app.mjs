// The app under the agent in bench/agent.mjs: a minimal keep-alive HTTP server plus a WebSocket
// echo on one port. Prints "listening <port>" once ready.
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';

const body = Buffer.from('ok');
const server = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 60_000;
const wss = new WebSocketServer({ server });
wss.on('connection', (ws) => ws.on('message', (m) => ws.send(m)));
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
