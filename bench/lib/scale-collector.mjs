#!/usr/bin/env node
// One collector replica in its own process, for bench/scale.mjs: its CPU time (process.cpuUsage)
// is then the collector's alone, not the publishers' or the other replica's.
// Configured by the environment (the collector's own settings). IPC protocol with the parent:
//   child -> { type: 'ready' } once started
//   parent -> { type: 'snapshot' }  child -> { type: 'snapshot', applied, observations, cpuUs, maxRssBytes }
//   parent -> { type: 'stop' }      child -> { type: 'stopped', applied, observations, lagsMs,
//                                               observationLagsMs } and exits
// `applied` counts messages (events as JetStream carries them, what the collector's eventsApplied
// counts); `observations` counts a `request.batch` as its records, any other event as one.
// Lag: the collector's onApplied hook gives the time each message was first applied. A message's
// `time` is when the simulated agent published it (a batch: its flush), so lagsMs holds applied -
// time per message (same host clock); a plain `request` of a one-record window carries its end
// time instead, a little before its flush. observationLagsMs: applied - each record's `at` (its
// end, before the window's wait) for a batch's records, applied - time for every other event.
import { Registry } from 'prom-client';
import { createCollector, loadCollectorConfig } from '../../dist/collector/index.js';

const config = loadCollectorConfig({}, process.env);
let applied = 0;
let observations = 0;
const lags = [];
const observationLags = [];
const collector = createCollector(config, {
  registry: new Registry(),
  onApplied: (events, at) => {
    applied += events.length;
    for (const e of events) {
      const lag = at - Date.parse(e.time);
      lags.push(lag);
      if (e.kind !== 'request.batch') {
        observations++;
        observationLags.push(lag);
        continue;
      }
      observations += e.data.records.length;
      for (const r of e.data.records) observationLags.push(at - Date.parse(r.at));
    }
  },
});
const cpu0 = process.cpuUsage();
await collector.start();
process.send({ type: 'ready' });

process.on('message', async (m) => {
  if (m.type === 'snapshot') {
    const cpu = process.cpuUsage(cpu0);
    process.send({
      type: 'snapshot',
      applied,
      observations,
      cpuUs: cpu.user + cpu.system,
      maxRssBytes: process.resourceUsage().maxRSS * 1024,
    });
  } else if (m.type === 'stop') {
    await collector.stop();
    process.send(
      { type: 'stopped', applied, observations, lagsMs: lags, observationLagsMs: observationLags },
      () => process.exit(0),
    );
  }
});
