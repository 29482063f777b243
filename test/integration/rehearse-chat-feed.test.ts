import { describe, expect, it } from 'vitest';
import { useFeedRehearsals } from '../helpers/rehearse-feed.js';

// The Socket.IO chat feed (examples/chat-feed) rolled by `drainwatch rehearse --app`, each flaw
// switch with its client: naive = long-polling first through a round-robin entry (no affinity),
// no replay, cut at exit; fixed = WebSocket only, replay after `auth.serverOffset` from the shared
// Redis log, disconnect after flushing at SIGTERM. The feed's own ledger in Redis says what it
// never sent each user; the probe's messagesLost is compared with it.

describe('rehearse --app examples/chat-feed', () => {
  const feeds = useFeedRehearsals();

  async function rehearse(mode: 'naive' | 'fixed', scenario: string) {
    const { run, prefix } = await feeds.rehearse({
      feed: 'chat-feed',
      mode,
      scenario,
      args: ['--balance', 'round-robin'],
    });
    return { run, ledger: await feeds.ledger(prefix) };
  }

  it('naive: polls without affinity lose their session to no-session-affinity; pushes missed across the cut are lost', async () => {
    const { run, ledger } = await rehearse('naive', 'scenario-polling.yaml');
    expect(run.podsReplaced).toBe(2);
    const affinity =
      (run.sessionsLostByCause['no-session-affinity'] ?? 0) +
      (run.baseline.sessionsLostByCause['no-session-affinity'] ?? 0);
    expect(affinity, JSON.stringify(run.baseline)).toBeGreaterThan(0);
    expect(ledger.length).toBeGreaterThan(0);
    const missing = ledger.reduce((n, u) => n + u.missing, 0);
    expect(missing, JSON.stringify(ledger)).toBeGreaterThan(0);
    // The feed records a message before emitting it, so one still in the dying process's buffers
    // is sent by its count and lost by the probe's: the two agree up to those in flight.
    expect(run.messagesLost, JSON.stringify(ledger)).toBeGreaterThanOrEqual(missing);
    // A session whose polls went elsewhere lives on in its pod until its ping timeout, which goes on
    // emitting into it: the feed counts those as written (twice, with the new session's), the
    // client never gets them. So here the ledger undercounts what users missed.
    expect(ledger.some((u) => u.writes > u.distinct)).toBe(true);
  }, 150_000);

  it('fixed: WebSocket only, flushed disconnect at SIGTERM, replay from the Redis log: nothing lost, nothing sent twice', async () => {
    const { run, ledger } = await rehearse('fixed', 'scenario.yaml');
    expect(run.podsReplaced).toBe(2);
    expect(run.messagesLost).toBe(0);
    expect(run.probeRequests.failed).toBe(0);
    expect(run.sessionPersistence).toBe(1);
    expect(run.sessionsLostByCause['no-session-affinity'] ?? 0).toBe(0);
    // Each WebSocket at termination closed with a frame (the client's, after the DISCONNECT packet):
    // Engine.IO gives no code, so 1005, `other-code` (docs/probe.md says why not `clean`).
    const outcomes = JSON.stringify(run.websocketOutcomes);
    expect(run.websocketOutcomes['no-close-frame'], outcomes).toBe(0);
    expect(run.websocketOutcomes['other-code'], outcomes).toBeGreaterThan(0);
    expect(ledger.length).toBeGreaterThan(0);
    for (const u of ledger) {
      expect(u.missing, u.user).toBe(0);
      expect(u.writes, u.user).toBe(u.distinct);
    }
  }, 150_000);
});
