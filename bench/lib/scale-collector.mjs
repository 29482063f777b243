#!/usr/bin/env node
// One collector replica in its own process, for bench/scale.mjs: its CPU time (process.cpuUsage)
// is then the collector's alone, not the publishers' or the other replica's.
// Configured by the environment (the collector's own settings). IPC protocol with the parent:
//   child -> { type: 'ready' } once started
//   parent -> { type: 'snapshot' }  child -> { type: 'snapshot', applied, cpuUs }
//   parent -> { type: 'stop' }      child -> { type: 'stopped', applied, lagsMs } and exits
// Lag: the collector's onApplied hook gives the time each event was first applied; the event's
// `time` is when the simulated agent published it, so lag = applied - time (same host clock).
import { Registry } from 'prom-client';
import { createCollector, loadCollectorConfig } from '../../dist/collector/index.js';

const config = loadCollectorConfig({}, process.env);
let applied = 0;
const lags = [];
const collector = createCollector(config, {
  registry: new Registry(),
  onApplied: (events, at) => {
    applied += events.length;
    for (const e of events) lags.push(at - Date.parse(e.time));
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
      cpuUs: cpu.user + cpu.system,
      maxRssBytes: process.resourceUsage().maxRSS * 1024,
    });
  } else if (m.type === 'stop') {
    await collector.stop();
    process.send({ type: 'stopped', applied, lagsMs: lags }, () => process.exit(0));
  }
});
