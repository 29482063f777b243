import { jetstreamManager } from '@nats-io/jetstream';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Collector, createCollector } from '../../collector/index.js';
import {
  EVENT_KINDS,
  type EventKind,
  encodeEvent,
  isPodScoped,
  parseSubject,
  subjectOf,
} from '../../contract/index.js';
import { createEvent, decodeEvent } from '../../contract/validate.js';
import { SILENT_LOGGER } from '../../lib/log.js';
import { createRng } from '../../lib/random.js';
import { pollUntil } from '../../lib/wait.js';
import { type CollectorEnv, startCollectorEnv } from '../helpers/collector-harness.js';
import { SAMPLE_DATA } from '../helpers/sample-events.js';

// 100,000 random and mutated events: the collector must not crash, must count every invalid one
// and apply every valid one. Validity is judged here with the contract itself plus the
// subject-matches-envelope rule, independently of the collector's code path.

const TOTAL = 100_000;

/** The event id when valid, else undefined. */
function validId(bytes: Uint8Array, subject: string, root: string): string | undefined {
  try {
    const e = decodeEvent(bytes);
    const p = parseSubject(subject, root);
    const same =
      p.kind === e.kind && p.namespace === e.namespace && p.workload === e.workload && p.pod === e.pod;
    // Idempotency is per workload (CloudEvents: source + id is unique; our source names the workload).
    return same ? `${e.namespace}/${e.workload}|${e.id}` : undefined;
  } catch {
    return undefined;
  }
}

async function metric(registry: Registry, name: string): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  return (m?.values ?? []).reduce((sum, v) => sum + Number(v.value), 0);
}

describe('collector fuzz', () => {
  let env: CollectorEnv;
  let collector: Collector;
  const registry = new Registry();
  const warnings: string[] = [];
  const frozen = Date.now();

  beforeAll(async () => {
    env = await startCollectorEnv();
    collector = createCollector(
      env.config({ DRAINWATCH_DEAD_LETTER_MAX: '100', DRAINWATCH_ACK_WAIT: '60s' }),
      {
        nats: env.nc,
        redis: env.redis,
        registry,
        log: { ...SILENT_LOGGER, warn: (...args: unknown[]) => warnings.push(String(args.at(-1))) },
        // A clock that stands still: the whole run is "within one minute", however slow the machine.
        clock: { now: () => frozen },
      },
    );
    await collector.start();
  });
  afterAll(async () => {
    await collector?.stop();
    await env?.stop();
  });

  it('100,000 random and mutated events: no crash, every invalid counted, every valid applied', async () => {
    const rand = createRng(20261121);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const root = env.ns.subjectRoot;
    const junk = [null, 42, -1, 'x', '', [], {}, true, 1e308, 'a'.repeat(300)];
    let valid = 0;
    let invalid = 0;
    const validIds = new Set<string>();
    const t0 = Date.parse('2026-01-01T00:00:00.000Z');

    for (let i = 0; i < TOTAL; i++) {
      const kind = pick(EVENT_KINDS) as EventKind;
      const identity = {
        namespace: pick(['shop', 'pay', 'ns.with.dots']),
        workload: pick(['quote', 'cart']),
        pod: isPodScoped(kind) || kind === 'agent.started' ? `pod-${Math.floor(rand() * 40)}` : null,
      };
      const event = createEvent(kind, identity, SAMPLE_DATA[kind] as never, {
        instance: 'fuzz',
        seq: i + 1,
        time: new Date(t0 + i * 10),
      });
      let subject = subjectOf(event, root);
      let bytes: Uint8Array = encodeEvent(event);
      const wire = JSON.parse(Buffer.from(bytes).toString()) as Record<string, unknown>;
      const data = wire.data as Record<string, unknown>;
      const r = rand();
      if (r < 0.4) {
        // valid as made
      } else if (r < 0.5) {
        delete wire[pick(Object.keys(wire))];
        bytes = Buffer.from(JSON.stringify(wire));
      } else if (r < 0.6) {
        const keys = Object.keys(data);
        if (keys.length) delete data[pick(keys)];
        bytes = Buffer.from(JSON.stringify(wire));
      } else if (r < 0.7) {
        const target = rand() < 0.5 ? wire : data;
        const keys = Object.keys(target);
        if (keys.length) target[pick(keys)] = pick(junk);
        bytes = Buffer.from(JSON.stringify(wire));
      } else if (r < 0.78) {
        bytes = bytes.subarray(0, Math.floor(rand() * bytes.length));
      } else if (r < 0.84) {
        bytes = Buffer.from(
          Array.from({ length: 1 + Math.floor(rand() * 200) }, () => Math.floor(rand() * 256)),
        );
      } else if (r < 0.9) {
        // A valid event on a subject that names something else.
        subject = subjectOf({ ...event, pod: event.pod === null ? 'intruder' : null }, root);
      } else if (r < 0.94) {
        wire.type = `dev.drainwatch.${pick(['nope', 'pod.nope', 'pod.prestop'])}`;
        bytes = Buffer.from(JSON.stringify(wire));
      } else if (r < 0.97) {
        wire[pick(['specversion', 'schemaversion'])] = pick(['2.0', '0.9', 'x']);
        bytes = Buffer.from(JSON.stringify(wire));
      } else if (r < 0.971) {
        wire.data = { ...data, pad: 'x'.repeat(70_000) };
        bytes = Buffer.from(JSON.stringify(wire));
      } else {
        // Fresh id but otherwise a duplicate payload: valid.
        wire.id = `${event.id}-again`;
        bytes = Buffer.from(JSON.stringify(wire));
      }
      const id = validId(bytes, subject, root);
      if (id === undefined) invalid += 1;
      else {
        valid += 1;
        // A mutation can set the id to a short junk value several events share: one of them per workload applies.
        validIds.add(id);
      }
      // Core publish (the stream captures the subject): far cheaper than 100,000 acked publishes;
      // the stream's message count below proves every one was stored.
      env.nc.publish(subject, bytes);
      if (i % 5000 === 4999) await env.nc.flush();
    }
    await env.nc.flush();
    const jsm = await jetstreamManager(env.nc);
    await pollUntil(async () => (await jsm.streams.info(env.ns.streamName)).state.messages === TOTAL, {
      timeoutMs: 30_000,
      what: 'the stream to hold every published message',
    });
    expect(valid).toBeGreaterThan(40_000);
    expect(invalid).toBeGreaterThan(40_000);

    await collector.drain(90_000);
    expect(collector.ready()).toBe(true);
    expect(await metric(registry, 'drainwatch_events_received_total')).toBe(TOTAL);
    expect(await metric(registry, 'drainwatch_events_invalid_total')).toBe(invalid);
    expect(await metric(registry, 'drainwatch_events_applied_total')).toBe(validIds.size);
    expect(await metric(registry, 'drainwatch_events_duplicate_total')).toBe(valid - validIds.size);
    // Logged at most once per reason per minute, however many were refused.
    const reasons = (await registry.getMetricsAsJSON()).find(
      (m) => m.name === 'drainwatch_events_invalid_total',
    )!.values.length;
    expect(warnings.length).toBeGreaterThan(0);
    expect(warnings.length).toBeLessThanOrEqual(reasons);
    // The dead-letter list stays bounded.
    expect(await collector.store.deadLetters(1000)).toHaveLength(100);
  }, 180_000);
});
