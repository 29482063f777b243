import { describe, expect, it } from 'vitest';
import { createSessionTally, latestLogin, sessionCause } from '../../collector/report-sessions.js';
import { emptyFacts, ms } from '../helpers/report-facts.js';

describe('report sessions: who issued a session, and why it was lost', () => {
  const facts = emptyFacts({
    logins: new Map([
      [
        's1',
        [
          { atMs: ms(0), issuedBy: 'web-old' },
          { atMs: ms(20), issuedBy: 'web-new' },
        ],
      ],
    ]),
    terminationStartByPod: new Map([['web-old', ms(10)]]),
  });

  it('latestLogin is the last login at or before the moment', () => {
    expect(latestLogin(facts, 's1', ms(-1))).toBeUndefined();
    expect(latestLogin(facts, 's1', ms(0))?.issuedBy).toBe('web-old');
    expect(latestLogin(facts, 's1', ms(25))?.issuedBy).toBe('web-new');
    expect(latestLogin(facts, 'unknown', ms(25))).toBeUndefined();
  });

  it('session-in-memory when the issuer was terminating at the loss, else other', () => {
    expect(sessionCause(facts, 's1', ms(5))).toBe('other'); // issuer not terminating yet
    expect(sessionCause(facts, 's1', ms(15))).toBe('session-in-memory');
    expect(sessionCause(facts, 's1', ms(25))).toBe('other'); // re-issued by a live pod
    expect(sessionCause(facts, 's1', ms(25), 'web-old')).toBe('session-in-memory'); // the probe names it
    expect(sessionCause(facts, 'no-login', ms(25))).toBe('other');
  });

  it('the tally keeps the earliest loss of a session, the first noted on a tie', () => {
    const tally = createSessionTally();
    tally.see('a');
    tally.see('a');
    tally.see('b');
    tally.lose('a', ms(10), 'other');
    tally.lose('a', ms(5), 'session-in-memory');
    tally.lose('a', ms(5), 'other');
    tally.lose('a', ms(7), 'other');
    expect(tally.active.size).toBe(2);
    expect([...tally.losses]).toEqual([['a', { atMs: ms(5), cause: 'session-in-memory' }]]);
  });
});
