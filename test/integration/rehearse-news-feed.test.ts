import { describe, expect, it } from 'vitest';
import { useFeedRehearsals } from '../helpers/rehearse-feed.js';

// The SSE news feed (examples/news-feed) rolled by `drainwatch rehearse --app`, each flaw switch
// in turn. The feed keeps its own ledger in Redis of the events the kernel took for each user; the
// probe's messagesLost must equal the ids the feed never sent between a user's first and last.

describe('rehearse --app examples/news-feed', () => {
  const feeds = useFeedRehearsals();

  async function rehearse(mode: 'naive' | 'fixed') {
    const { run, prefix } = await feeds.rehearse({ feed: 'news-feed', mode, scenario: 'scenario.yaml' });
    return { run, ledger: await feeds.ledger(prefix) };
  }

  it('naive: streams cut at exit, Last-Event-ID ignored: the probe loses exactly what the feed never sent', async () => {
    const { run, ledger } = await rehearse('naive');
    expect(run.podsReplaced).toBe(2);
    // Every stream a terminating pod served was cut by its exit; none ended cleanly.
    expect(run.streamEnds.cut).toBeGreaterThan(0);
    expect(run.streamEnds['server-closed']).toBe(0);
    expect(run.cleanTerminations).toBe(0);
    const missing = ledger.reduce((n, u) => n + u.missing, 0);
    expect(ledger.length).toBeGreaterThan(0);
    expect(missing).toBeGreaterThan(0);
    // Exact: the feed records an event only once the kernel took it (ledger.ts), and its exit path
    // waits for those records, so what it counts as sent is what reached the probe.
    expect(run.messagesLost, JSON.stringify(ledger)).toBe(missing);
    // Every loss came after a terminating pod's last push: the cut streams' cause, not another.
    expect(run.messagesLostAtTermination).toBe(run.messagesLost);
    for (const u of ledger) expect(u.writes, u.user).toBe(u.distinct);
  }, 150_000);

  it('fixed: streams ended at SIGTERM, resumed from the Redis history: nothing lost, nothing sent twice', async () => {
    const { run, ledger } = await rehearse('fixed');
    expect(run.podsReplaced).toBe(2);
    expect(run.streamEnds['server-closed']).toBeGreaterThan(0);
    expect(run.streamEnds.cut).toBe(0);
    expect(run.cleanTerminations).toBe(1);
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
