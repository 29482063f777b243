#!/usr/bin/env node
// What a message costs the collector's process to receive, by how it arrives: one at a time
// (what a replica that keeps up sees: each message its own socket read and wake-up) or in groups
// (what a backlog, or pulling once per apply linger, would give). A real nats-server on loopback
// with a stream; this process publishes 2 KB messages at a fixed rate as core NATS publishes
// (JetStream stores them), and a child process consumes them as the collector does (the durable
// consumer's consume(), acknowledged in groups every 50 ms, as after an apply). Printed: the
// child's CPU time per message (process.cpuUsage), each way, and the ratio measured in the same run.
// In the collector itself, pulling once per linger (prototyped on 2026-12-02) gave only 1.06-1.09
// times as many events per CPU-second with two replicas: this difference is real but small beside a
// replica's other per-batch costs (docs/scaling.md).
//
//   npm run build && node bench/arrivals.mjs [--rate 1000] [--seconds 10] [--group 50]
import { fork } from 'node:child_process';
import { parseArgs } from 'node:util';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { startNatsServer } from '../dist/lib/servers.js';

const STREAM = 'ARRIVALS';
const PAYLOAD_BYTES = 2000;
const ACK_EVERY_MS = 50;

if (process.argv[2] === '--consumer') await consume(process.argv[3], process.argv[4]);
else await main();

/** The child: consumes `durable` until told to report, acknowledging every ACK_EVERY_MS. */
async function consume(url, durable) {
  const nc = await connect({ servers: url });
  const consumer = await jetstream(nc).consumers.get(STREAM, durable);
  const messages = await consumer.consume({ max_messages: 400, expires: 2000, bind: true });
  let held = [];
  let received = 0;
  const timer = setInterval(() => {
    for (const m of held) m.ack();
    held = [];
  }, ACK_EVERY_MS);
  process.send({ type: 'ready' });
  const cpu0 = process.cpuUsage();
  process.on('message', () => {
    clearInterval(timer);
    const cpu = process.cpuUsage(cpu0);
    process.send({ type: 'report', received, cpuUs: cpu.user + cpu.system, sysUs: cpu.system }, () =>
      process.exit(0),
    );
  });
  for await (const m of messages) {
    received++;
    held.push(m);
  }
}

async function main() {
  const { values } = parseArgs({
    options: {
      rate: { type: 'string', default: '1000' },
      seconds: { type: 'string', default: '10' },
      group: { type: 'string', default: '50' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log('usage: npm run build && node bench/arrivals.mjs [--rate 1000] [--seconds 10] [--group 50]');
    return;
  }
  const rate = Number(values.rate);
  const seconds = Number(values.seconds);
  const group = Number(values.group);
  if (![rate, seconds, group].every((n) => Number.isInteger(n) && n > 0) || rate * seconds > 100_000) {
    throw new Error('--rate, --seconds and --group are positive integers, rate × seconds at most 100,000');
  }
  const server = await startNatsServer();
  try {
    const nc = await connect({ servers: server.url });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: STREAM, subjects: ['arrivals.>'] });
    const results = {};
    for (const [name, size] of [
      ['one at a time', 1],
      [`in groups of ${group}`, group],
    ]) {
      results[name] = await runOnce(nc, jsm, server.url, { rate, seconds, size, name });
    }
    const [single, grouped] = Object.values(results);
    console.log(
      `arrivals: ${rate} messages/s of ${PAYLOAD_BYTES} bytes for ${seconds} s; consumer CPU per message: ` +
        `one at a time ${single.toFixed(1)} µs, in groups of ${group} ${grouped.toFixed(1)} µs: ` +
        `${(single / grouped).toFixed(2)} times as much one at a time`,
    );
    await nc.close();
  } finally {
    await server.stop();
  }
}

/** One consumer child fed `rate` messages/s in groups of `size`; returns its CPU µs per message. */
async function runOnce(nc, jsm, url, { rate, seconds, size, name }) {
  const durable = `c${size}`;
  await jsm.consumers.add(STREAM, {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    filter_subject: `arrivals.${durable}`,
  });
  const child = fork(new URL(import.meta.url).pathname, ['--consumer', url, durable]);
  const next = (type) =>
    new Promise((resolve, reject) => {
      const onExit = (code) => reject(new Error(`consumer exited ${code} before '${type}'`));
      const onMessage = (m) => {
        if (m.type !== type) return;
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(m);
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  await next('ready');
  const payload = new Uint8Array(PAYLOAD_BYTES);
  const total = rate * seconds;
  const start = performance.now();
  for (let sent = 0; sent < total; ) {
    const wait = start + (sent / rate) * 1000 - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait).unref());
    for (let i = 0; i < size && sent < total; i++, sent++) nc.publish(`arrivals.${durable}`, payload);
    await nc.flush();
  }
  // Every message delivered (bounded: 30 s), then the child's figures.
  const deadline = Date.now() + 30_000;
  for (;;) {
    const info = await jsm.consumers.info(STREAM, durable);
    if (info.delivered.consumer_seq >= total || Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 50).unref());
  }
  const reported = next('report');
  child.send('report');
  const { received, cpuUs, sysUs } = await reported;
  if (received < total) throw new Error(`${name}: the consumer received ${received} of ${total}`);
  console.log(
    `${name}: ${received} messages, ${(cpuUs / received).toFixed(1)} µs CPU per message (system ${(sysUs / received).toFixed(1)})`,
  );
  return cpuUs / received;
}
