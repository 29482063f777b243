import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Conn, exchange, expressApp, GET, nodeApp, pythonApp, useFidelity } from './harness.js';

// Ordinary messages: the agent must be invisible in status, headers, body and connection reuse.

const fx = useFidelity();

const hello = nodeApp((_req, res) => {
  res.setHeader('content-type', 'text/plain');
  res.setHeader('x-app', 'node');
  res.end('hello');
});
// Node states Content-Length itself only to an HTTP/1.1 client (the agent always speaks 1.1 to
// the app); an app that states it, as most do, answers both the same.
const helloWithLength = nodeApp((_req, res) => {
  res.setHeader('content-length', '5');
  res.end('hello');
});

describe('fidelity: plain messages', () => {
  it('GET with Content-Length, connection kept alive', async () => {
    const { direct } = await fx.compare(hello, exchange(GET()));
    expect(direct.responses[0]!.statusLine).toBe('200 OK');
    expect(direct.fate).toBe('kept-alive');
  });

  it('Connection: close ends the connection with a FIN after the response', async () => {
    const { direct } = await fx.compare(hello, exchange(GET('/', 'Connection: close\r\n'), { closes: true }));
    expect(direct.fate).toBe('fin');
  });

  it('keep-alive reuse: three requests one after the other on one connection', async () => {
    const app = nodeApp((req, res) => res.end(`answer ${req.url}`));
    const { direct } = await fx.compare(app, async (port) => {
      const conn = await Conn.open(port);
      try {
        const bodies: (string | undefined)[] = [];
        for (const path of ['/a', '/b', '/c']) {
          await conn.write(GET(path));
          bodies.push((await conn.response())?.body);
        }
        return { bodies, fate: await conn.fate() };
      } finally {
        conn.destroy();
      }
    });
    expect(direct).toEqual({ bodies: ['answer /a', 'answer /b', 'answer /c'], fate: 'kept-alive' });
  });

  it('pipelining: three requests in one write, answered in order', async () => {
    const app = nodeApp((req, res) => {
      // The first answer is the slowest: order must still hold.
      const wait = req.url === '/1' ? 30 : 0;
      setTimeout(() => res.end(`answer ${req.url}`), wait).unref();
    });
    const { direct } = await fx.compare(app, exchange(GET('/1') + GET('/2') + GET('/3'), { expect: 3 }));
    expect(direct.responses.map((r) => r.body)).toEqual(['answer /1', 'answer /2', 'answer /3']);
  });

  it('HEAD: headers of the GET, no body', async () => {
    const app = nodeApp((req, res) => {
      res.setHeader('content-length', '1000');
      res.end(req.method === 'HEAD' ? undefined : Buffer.alloc(1000, 'x'));
    });
    const { direct } = await fx.compare(
      app,
      exchange('HEAD / HTTP/1.1\r\nHost: fidelity\r\n\r\n', { noBody: true }),
    );
    expect(direct.responses[0]!.headers).toContainEqual(['content-length', '1000']);
    expect(direct.fate).toBe('kept-alive');
  });

  it('204 No Content and 304 Not Modified carry no body', async () => {
    const app = nodeApp((req, res) => {
      res.statusCode = req.url === '/204' ? 204 : 304;
      res.setHeader('etag', '"v1"');
      res.end();
    });
    const { direct } = await fx.compare(app, exchange(GET('/204') + GET('/304'), { expect: 2 }));
    expect(direct.responses.map((r) => r.statusLine)).toEqual(['204 No Content', '304 Not Modified']);
  });

  it('chunked response body, bytes intact', async () => {
    const app = nodeApp((_req, res) => {
      res.write('first ');
      setTimeout(() => res.end('second'), 10).unref();
    });
    const { direct } = await fx.compare(app, exchange(GET()));
    expect(direct.responses[0]!.body).toBe('first second');
  });

  it('chunked upload: the app reads the same bytes', async () => {
    const app = nodeApp((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => res.end(`got ${Buffer.concat(parts).toString()}`));
    });
    const body = '5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n';
    const { direct } = await fx.compare(
      app,
      exchange([`POST / HTTP/1.1\r\nHost: fidelity\r\nTransfer-Encoding: chunked\r\n\r\n`, body]),
    );
    expect(direct.responses[0]!.body).toBe('got hello world');
  });

  it('HTTP/1.0 request: close-delimited answer, then FIN', async () => {
    const { direct } = await fx.compare(
      helloWithLength,
      exchange('GET / HTTP/1.0\r\n\r\n', { closes: true }),
    );
    expect(direct.responses[0]!.body).toBe('hello');
    expect(direct.fate).toBe('fin');
  });

  it('HTTP/1.0 with Connection: keep-alive stays open', async () => {
    const { direct } = await fx.compare(
      helloWithLength,
      exchange('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n', { expect: 1 }),
    );
    expect(direct.fate).toBe('kept-alive');
  });

  it('large response body (4 MiB) arrives byte for byte', async () => {
    const big = Buffer.alloc(4 * 1024 * 1024, 'abcdefghij');
    const app = nodeApp((_req, res) => res.end(big));
    const { direct } = await fx.compare(app, exchange(GET()));
    expect(direct.responses[0]!.body).toBe(
      `${big.length} bytes sha256:${createHash('sha256').update(big).digest('hex')}`,
    );
  });

  it('large upload (2 MiB) reaches the app whole', async () => {
    const app = nodeApp((req, res) => {
      const hash = createHash('sha256');
      let n = 0;
      req.on('data', (c: Buffer) => {
        n += c.length;
        hash.update(c);
      });
      req.on('end', () => res.end(`${n} ${hash.digest('hex')}`));
    });
    const body = Buffer.alloc(2 * 1024 * 1024, 'upload');
    const { direct } = await fx.compare(
      app,
      exchange([`PUT /u HTTP/1.1\r\nHost: fidelity\r\nContent-Length: ${body.length}\r\n\r\n`, body]),
    );
    expect(direct.responses[0]!.body).toBe(
      `${body.length} ${createHash('sha256').update(body).digest('hex')}`,
    );
  });

  it('Express: JSON, status and headers set by the framework', async () => {
    const app = expressApp((a) => {
      a.get('/items/:id', (req, res) => {
        res.status(201).set('x-id', req.params.id).json({ id: req.params.id });
      });
      a.use((_req, res) => res.status(404).send('none'));
    });
    const { direct } = await fx.compare(app, exchange(GET('/items/7') + GET('/missing'), { expect: 2 }));
    expect(direct.responses.map((r) => r.statusLine)).toEqual(['201 Created', '404 Not Found']);
  });

  it('Python http.server: keep-alive GET', async () => {
    const app = pythonApp(
      [
        '    def do_GET(self):',
        "        b = b'from python'",
        '        self.send_response(200)',
        "        self.send_header('Content-Length', str(len(b)))",
        '        self.end_headers()',
        '        self.wfile.write(b)',
      ].join('\n'),
    );
    const { direct } = await fx.compare(app, exchange(GET()));
    expect(direct.responses[0]!.body).toBe('from python');
    expect(direct.fate).toBe('kept-alive');
  });

  it('Python http.server: body delimited by the close', async () => {
    const app = pythonApp(
      [
        '    def do_GET(self):',
        '        self.send_response(200)',
        "        self.send_header('Connection', 'close')",
        '        self.end_headers()',
        "        self.wfile.write(b'until the end')",
        '        self.close_connection = True',
      ].join('\n'),
    );
    // The body and its end are compared; the connection's fate is not: the app's Connection: close
    // ends the agent's connection to the app, while the client keeps its own (see docs/agent.md,
    // "Differences from the bare pod").
    const { direct } = await fx.compare(app, async (port) => {
      const r = await exchange(GET(), { closes: false })(port);
      return r.responses;
    });
    expect(direct[0]!.body).toBe('until the end');
  });

  it('Expect: 100-continue: the interim response, then the final one', async () => {
    const app = nodeApp((req, res) => {
      let n = 0;
      req.on('data', (c: Buffer) => {
        n += c.length;
      });
      req.on('end', () => res.end(`read ${n}`));
    });
    const script = async (port: number) => {
      const conn = await Conn.open(port);
      try {
        await conn.write(
          'POST / HTTP/1.1\r\nHost: fidelity\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n',
        );
        const interim = await conn.response();
        await conn.write('hello');
        const final = await conn.response();
        return { interim, final, fate: await conn.fate() };
      } finally {
        conn.destroy();
      }
    };
    const { direct } = await fx.compare(app, script);
    expect(direct.interim?.statusLine).toBe('100 Continue');
    expect(direct.final?.body).toBe('read 5');
  });
});
