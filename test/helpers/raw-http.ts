import { type Socket, connect as tcpConnect } from 'node:net';
import { pollUntil } from '../../lib/wait.js';

// A client that writes exact bytes and reads exact bytes, for tests where framing matters. Its
// response reader is written here from RFC 9112 on purpose: the agent parses with llhttp, so the
// test side must not (a shared misreading would pass).

export interface RawResponse {
  readonly statusLine: string;
  readonly status: number;
  /** [name, value] in order, as received. */
  readonly headers: readonly [string, string][];
  readonly body: Buffer;
  /** How the body was delimited on the wire. */
  readonly framing: 'none' | 'length' | 'chunked' | 'close';
  /** Sizes of the chunks, for chunked bodies. */
  readonly chunks: readonly number[];
  /** Every value of a header (case-insensitive). */
  all(name: string): string[];
  /** The one value of a header, or undefined; throws if it appears more than once. */
  get(name: string): string | undefined;
}

class FramingError extends Error {}

function makeResponse(
  statusLine: string,
  headers: [string, string][],
  body: Buffer,
  framing: RawResponse['framing'],
  chunks: number[],
): RawResponse {
  const all = (name: string): string[] =>
    headers.filter(([n]) => n.toLowerCase() === name.toLowerCase()).map(([, v]) => v);
  return {
    statusLine,
    status: Number(statusLine.slice(9, 12)),
    headers,
    body,
    framing,
    chunks,
    all,
    get(name) {
      const v = all(name);
      if (v.length > 1) throw new FramingError(`${name} appears ${v.length} times`);
      return v[0];
    },
  };
}

/** One response from the start of `buf`, or undefined while it is incomplete. */
export function parseResponse(
  buf: Buffer,
  ended: boolean,
  noBody: boolean,
): { response: RawResponse; used: number } | undefined {
  const headEnd = buf.indexOf('\r\n\r\n');
  if (headEnd < 0) {
    if (ended)
      throw new FramingError(`connection ended inside a head: ${JSON.stringify(buf.toString('latin1'))}`);
    return undefined;
  }
  const lines = buf.subarray(0, headEnd).toString('latin1').split('\r\n');
  const statusLine = lines[0]!;
  if (!/^HTTP\/1\.[01] \d{3} /.test(statusLine)) throw new FramingError(`bad status line: ${statusLine}`);
  const headers = lines.slice(1).map((l): [string, string] => {
    const i = l.indexOf(':');
    if (i <= 0) throw new FramingError(`bad header line: ${l}`);
    return [l.slice(0, i), l.slice(i + 1).trim()];
  });
  const status = Number(statusLine.slice(9, 12));
  const start = headEnd + 4;
  const te = headers.filter(([n]) => n.toLowerCase() === 'transfer-encoding').map(([, v]) => v);
  const cl = headers.filter(([n]) => n.toLowerCase() === 'content-length').map(([, v]) => v);
  if (noBody || status < 200 || status === 204 || status === 304)
    return { response: makeResponse(statusLine, headers, Buffer.alloc(0), 'none', []), used: start };
  if (te.length > 0) {
    if (cl.length > 0) throw new FramingError('both Transfer-Encoding and Content-Length');
    if (te.join(',').trim().toLowerCase() !== 'chunked') throw new FramingError(`transfer-encoding ${te}`);
    const parts: Buffer[] = [];
    const sizes: number[] = [];
    let pos = start;
    for (;;) {
      const lineEnd = buf.indexOf('\r\n', pos);
      if (lineEnd < 0) break;
      const sizeText = buf.subarray(pos, lineEnd).toString('latin1').split(';')[0]!.trim();
      if (!/^[0-9a-fA-F]+$/.test(sizeText)) throw new FramingError(`bad chunk size: ${sizeText}`);
      const size = Number.parseInt(sizeText, 16);
      if (size === 0) {
        // Trailer section: lines up to an empty one.
        let p = lineEnd + 2;
        for (;;) {
          const e = buf.indexOf('\r\n', p);
          if (e < 0) break;
          if (e === p)
            return {
              response: makeResponse(statusLine, headers, Buffer.concat(parts), 'chunked', sizes),
              used: e + 2,
            };
          p = e + 2;
        }
        break;
      }
      const dataEnd = lineEnd + 2 + size;
      if (buf.length < dataEnd + 2) break;
      if (buf[dataEnd] !== 0x0d || buf[dataEnd + 1] !== 0x0a)
        throw new FramingError('chunk not ended by CRLF');
      parts.push(buf.subarray(lineEnd + 2, dataEnd));
      sizes.push(size);
      pos = dataEnd + 2;
    }
    if (ended) throw new FramingError('connection ended inside a chunked body');
    return undefined;
  }
  if (cl.length > 0) {
    if (cl.length > 1) throw new FramingError('several Content-Length headers');
    const n = Number(cl[0]);
    if (buf.length < start + n) {
      if (ended) throw new FramingError(`connection ended after ${buf.length - start} of ${n} body bytes`);
      return undefined;
    }
    return {
      response: makeResponse(statusLine, headers, Buffer.from(buf.subarray(start, start + n)), 'length', []),
      used: start + n,
    };
  }
  // Delimited by the close.
  if (!ended) return undefined;
  return {
    response: makeResponse(statusLine, headers, Buffer.from(buf.subarray(start)), 'close', []),
    used: buf.length,
  };
}

export class RawClient {
  private buf = Buffer.alloc(0);
  /** The peer sent FIN. */
  ended = false;
  closed = false;
  error: Error | undefined;

  private constructor(readonly socket: Socket) {
    socket.on('data', (c: Buffer) => {
      this.buf = Buffer.concat([this.buf, c]);
    });
    socket.on('end', () => {
      this.ended = true;
    });
    socket.on('close', () => {
      this.closed = true;
      this.ended = true;
    });
    socket.on('error', (err) => {
      this.error = err;
    });
  }

  /** `allowHalfOpen` keeps our side writable after the peer's FIN. */
  static async connect(port: number, options: { allowHalfOpen?: boolean } = {}): Promise<RawClient> {
    const socket = tcpConnect({ host: '127.0.0.1', port, allowHalfOpen: options.allowHalfOpen ?? false });
    const client = new RawClient(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return client;
  }

  /** Bytes received and not yet read as a response. */
  get pending(): Buffer {
    return this.buf;
  }

  /** Writes, waiting for the socket to drain when it asks (bounded by the caller's test timeout). */
  async write(data: string | Buffer): Promise<void> {
    const ok = typeof data === 'string' ? this.socket.write(data, 'latin1') : this.socket.write(data);
    if (ok) return;
    await new Promise<void>((resolve, reject) => {
      const onClose = (): void => reject(new Error('socket closed while writing'));
      this.socket.once('close', onClose);
      this.socket.once('drain', () => {
        this.socket.off('close', onClose);
        resolve();
      });
    });
  }

  /** Reads the next whole response. `noBody`: it answers a HEAD. */
  async response(options: { noBody?: boolean; timeoutMs?: number } = {}): Promise<RawResponse> {
    return pollUntil(
      () => {
        const r = parseResponse(this.buf, this.ended, options.noBody ?? false);
        if (r === undefined) {
          if (this.ended && this.buf.length === 0) throw new FramingError('connection ended, no response');
          return undefined;
        }
        this.buf = this.buf.subarray(r.used);
        return r.response;
      },
      {
        timeoutMs: options.timeoutMs ?? 15_000,
        intervalMs: 2,
        what: 'a whole response',
        fatal: (err) => err instanceof FramingError,
      },
    );
  }

  /** Waits for bytes matching `re` at the start of what is unread (e.g. an interim response). */
  async waitForText(re: RegExp, timeoutMs = 15_000): Promise<string> {
    return pollUntil(() => re.exec(this.buf.toString('latin1'))?.[0], {
      timeoutMs,
      intervalMs: 2,
      what: `bytes matching ${re}`,
    });
  }

  /** Drops what has been received so far. */
  consume(n: number): void {
    this.buf = this.buf.subarray(n);
  }

  async waitEnded(timeoutMs = 15_000): Promise<void> {
    await pollUntil(() => this.ended, { timeoutMs, intervalMs: 5, what: 'the server to end the connection' });
  }

  async waitClosed(timeoutMs = 15_000): Promise<void> {
    await pollUntil(() => this.closed, { timeoutMs, intervalMs: 5, what: 'the connection to close' });
  }

  destroy(): void {
    this.socket.destroy();
  }
}
