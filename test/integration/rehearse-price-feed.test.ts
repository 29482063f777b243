import { describe, expect, it } from 'vitest';
import { useFeedRehearsals } from '../helpers/rehearse-feed.js';

// The raw-ws price feed (examples/price-feed) rolled by `drainwatch rehearse --app`, each flaw
// switch in turn. The feed keeps its own ledger of what it sent each user in Redis; the probe's
// messagesLost must equal the numbers the feed never sent between a user's first and last push.

describe('rehearse --app examples/price-feed', () => {
  const feeds = useFeedRehearsals();

  async function rehearse(mode: 'naive' | 'fixed') {
    const { run, prefix } = await feeds.rehearse({ feed: 'price-feed', mode, scenario: 'scenario.yaml' });
    return { run, ledger: await feeds.ledger(prefix) };
  }

  it('naive: sockets cut without a close frame, resume ignored: the probe loses exactly what the feed never sent', async () => {
    const { run, ledger } = await rehearse('naive');
    expect(run.podsReplaced).toBe(2);
    expect(run.websocketOutcomes['no-close-frame']).toBeGreaterThan(0);
    expect(run.websocketCloses['1006']).toBe(run.websocketOutcomes['no-close-frame']);
    const missing = ledger.reduce((n, u) => n + u.missing, 0);
    expect(ledger.length).toBeGreaterThan(0);
    // A reconnect within one tick misses nothing by the feed's count (seen once): missing > 0 is
    // not asserted. The feed records a push only once ws.send's callback says the kernel has it,
    // and a pod killed by SIGTERM's default action leaves its kernel to send what it holds then a
    // FIN (nothing unread from the peer, so no reset): what the feed recorded is what the probe
    // got, to the push (docs/probe.md, "Example apps").
    expect(run.messagesLost, JSON.stringify(ledger)).toBe(missing);
    for (const u of ledger) expect(u.writes, u.user).toBe(u.distinct);
  }, 150_000);

  it('fixed: 1001 at SIGTERM and resume from the shared Redis log: nothing lost, nothing sent twice', async () => {
    const { run, ledger } = await rehearse('fixed');
    expect(run.podsReplaced).toBe(2);
    expect(run.websocketOutcomes['no-close-frame']).toBe(0);
    expect(run.websocketCloses['1001']).toBeGreaterThan(0);
    expect(run.messagesLost).toBe(0);
    expect(run.probeRequests.failed).toBe(0);
    expect(run.sessionPersistence).toBe(1);
    expect(ledger.length).toBeGreaterThan(0);
    for (const u of ledger) {
      expect(u.missing, u.user).toBe(0);
      expect(u.writes, u.user).toBe(u.distinct);
    }
  }, 150_000);
});
