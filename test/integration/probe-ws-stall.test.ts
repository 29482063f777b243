import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { canConnect, freePort, type RunningServer, startRedisServer } from '../../lib/servers.js';
import { pollUntil } from '../../lib/wait.js';
import { createProbeRun, loadScenario, type ProbeRun } from '../../probe/index.js';
import { uniqueTag } from '../helpers/servers.js';

// A starved probe must not count as lost a message it wrote on a connection whose close frame had
// already reached it. In `drainwatch rehearse` under CPU load the drained price feed's echo lost
// messages this way (docs/probe.md, "A starved probe and the closes it has not read"): its drain
// closes each socket with 1001 right after an answer, the probe's next message is due shortly
// after, and a stalled probe ran that timer before reading the close. Here the stall is made on
// purpose: the test's process (the probe and, as in a rehearsal, the relay in front of the app)
// is held busy from the moment the probe's first message passes, while the real price feed (its
// own process, fixed, SIGTERMed then) answers it and closes; the next message falls due inside
// the stall.

const MAIN = fileURLToPath(new URL('../../dist/examples/price-feed/main.js', import.meta.url));
const SCENARIO = fileURLToPath(new URL('../../examples/price-feed/scenario-echo.yaml', import.meta.url));
/** The feed's answer delay (FEED_REPLY_DELAY) and the probe's message interval, in ms. */
const REPLY_DELAY_MS = 100;
const PING_INTERVAL_MS = 300;
/** How long the probe's loop is held: the answer and the close arrive well within it. */
const STALL_MS = 3000;

function busyFor(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    /* the probe's loop, held on purpose */
  }
}

/**
 * A TCP relay in this process, as the rehearsal's entry point shares the probe's loop. The first
 * data after the probe's `/echo` upgrade is its first message: `onFirstMessage` runs once, after
 * that chunk was passed on.
 */
function startRelay(appPort: number, onFirstMessage: () => void): Promise<{ server: Server; port: number }> {
  let fired = false;
  const server = createServer((client: Socket) => {
    const app = tcpConnect({ host: '127.0.0.1', port: appPort });
    client.pipe(app);
    app.pipe(client);
    client.on('error', () => app.destroy());
    app.on('error', () => client.destroy());
    let upgraded = false;
    client.on('data', (chunk: Buffer) => {
      if (!upgraded) {
        upgraded = chunk.toString('latin1').startsWith('GET /echo');
        return;
      }
      if (fired) return;
      fired = true;
      onFirstMessage();
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      resolve({ server, port: typeof a === 'object' && a ? a.port : 0 });
    });
  });
}

describe('probe WebSocket under a stall', () => {
  let redis: RunningServer | undefined;
  let feed: ChildProcess | undefined;
  let relay: Server | undefined;
  let run: ProbeRun | undefined;
  afterEach(async () => {
    await run?.stop();
    relay?.close();
    if (feed && feed.exitCode === null && feed.signalCode === null) {
      const gone = new Promise((resolve) => feed!.once('exit', resolve));
      feed.kill('SIGKILL');
      await gone;
    }
    await redis?.stop();
  });

  it('a message due while the close frame waited unread is not sent on that connection, so not lost', async () => {
    redis = await startRedisServer();
    const port = await freePort();
    feed = spawn(process.execPath, [MAIN], {
      env: {
        ...process.env,
        FEED_MODE: 'fixed',
        PORT: String(port),
        REDIS_URL: redis.url,
        FEED_REDIS_PREFIX: `${uniqueTag()}:`,
        FEED_REPLY_DELAY: `${REPLY_DELAY_MS}ms`,
      },
      stdio: 'ignore',
    });
    await pollUntil(() => canConnect(port), { timeoutMs: 20_000, what: 'the price feed listening' });
    let stalled = false;
    const started = await startRelay(port, () => {
      // SIGTERM first: the fixed feed's drain answers the message just passed on, then closes
      // with 1001, all while this process does not read.
      feed!.kill('SIGTERM');
      stalled = true;
      busyFor(STALL_MS);
    });
    relay = started.server;
    run = createProbeRun({
      target: `http://127.0.0.1:${started.port}`,
      sessions: 1,
      websockets: 1,
      scenario: await loadScenario(SCENARIO),
      wsPingIntervalMs: PING_INTERVAL_MS,
      // The stall is the test's own; the rule under test is the message count, not the lag flag.
      lagThresholdMs: 60_000,
    });
    await run.start();
    await pollUntil(() => stalled && (run!.snapshot().websockets.closesByCode['1001'] ?? 0) >= 1, {
      timeoutMs: 60_000,
      what: "the feed's 1001 close after the stall",
    });
    const ws = (await run.stop()).websockets;
    expect(ws.closesByCode['1001']).toBe(1);
    expect(ws.messagesSent).toBeGreaterThanOrEqual(1);
    // Without waiting for pending I/O the probe wrote its next message after the stall, before
    // reading the close that was already there: 1 lost.
    expect(ws.messagesLost).toBe(0);
    expect(ws.messagesAcked).toBe(ws.messagesSent);
  }, 90_000);
});
