import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';
import { createCollectorMetrics } from '../../collector/metrics.js';
import { DRAIN_METRICS } from '../../contract/index.js';
import { pollUntil } from '../../lib/wait.js';
import { REPO_ROOT } from '../helpers/markdown.js';
import { type RunningPrometheus, startPrometheus } from './grafana-prometheus.js';

// The progressive-delivery examples (examples/progressive-delivery/) against a real Prometheus: it
// scrapes a loopback /metrics that serves the collector's own metric registry with known figures for
// a few workloads, then every Argo Rollouts and Flagger query is sent to its HTTP API with the
// arguments those controllers would substitute, and the verdict the template's conditions give is
// checked: a clean rollout passes, a lossy one fails, an open or unseen one is never a pass.

const DIR = join(REPO_ROOT, 'examples/progressive-delivery');
const docs = (file: string): unknown[] =>
  parseAllDocuments(readFileSync(join(DIR, file), 'utf8')).map((d) => d.toJS() as unknown);

const AnalysisTemplate = z.object({
  apiVersion: z.literal('argoproj.io/v1alpha1'),
  kind: z.literal('AnalysisTemplate'),
  metadata: z.object({ name: z.string().min(1) }),
  spec: z.object({
    args: z.array(z.object({ name: z.string().min(1), value: z.string().optional() })),
    metrics: z
      .array(
        z.object({
          name: z.string().min(1),
          successCondition: z.string().min(1),
          failureCondition: z.string().min(1),
          failureLimit: z.number().int().min(0).optional(),
          provider: z.object({
            prometheus: z.object({ address: z.string().min(1), query: z.string().min(1) }),
          }),
        }),
      )
      .min(1),
  }),
});

const MetricTemplate = z.object({
  apiVersion: z.literal('flagger.app/v1beta1'),
  kind: z.literal('MetricTemplate'),
  metadata: z.object({ name: z.string().min(1) }),
  spec: z.object({
    provider: z.object({ type: z.literal('prometheus'), address: z.url() }),
    query: z.string().min(1),
  }),
});

const Canary = z.object({
  apiVersion: z.literal('flagger.app/v1beta1'),
  kind: z.literal('Canary'),
  spec: z.object({
    targetRef: z.object({ kind: z.string(), name: z.string() }),
    analysis: z.object({
      metrics: z.array(
        z.object({
          name: z.string(),
          templateRef: z.object({ name: z.string(), namespace: z.string().optional() }),
          thresholdRange: z.object({ min: z.number().optional(), max: z.number().optional() }),
          interval: z.string().optional(),
        }),
      ),
    }),
  }),
});

const argo = AnalysisTemplate.parse(docs('argo-rollouts-analysistemplate.yaml')[0]);
const flaggerTemplates = docs('flagger-metrictemplates.yaml').map((d) => MetricTemplate.parse(d));
const canary = Canary.parse(docs('flagger-canary.yaml')[0]);

/** Argo's condition, restricted to the one shape the template uses so the test can apply it. */
const CONDITION = /^len\(result\) > 0 && result\[0\] (>=|<|>|<=) (\d+(?:\.\d+)?)$/;
const compare = (op: string, a: number, b: number): boolean =>
  op === '>=' ? a >= b : op === '>' ? a > b : op === '<=' ? a <= b : a < b;

/** What Argo Rollouts concludes from one measurement: `result` is the vector's values. */
function argoVerdict(metric: (typeof argo.spec.metrics)[number], result: number[]): string {
  const ok = metric.successCondition.match(CONDITION);
  const bad = metric.failureCondition.match(CONDITION);
  if (!ok || !bad) throw new Error(`${metric.name}: conditions outside the tested shape`);
  const value = result[0];
  if (value === undefined) return 'Inconclusive';
  if (compare(ok[1] as string, value, Number(ok[2]))) return 'Successful';
  if (compare(bad[1] as string, value, Number(bad[2]))) return 'Failed';
  return 'Inconclusive';
}

/** Figures of the latest closed (or open) rollout per workload of namespace `shop`. */
const WORKLOADS: Record<string, { sp: number; rs: number; ct: number; open: boolean }> = {
  good: { sp: 1, rs: 0.995, ct: 1, open: false },
  bad: { sp: 0.8, rs: 0.9, ct: 0.5, open: false },
  open: { sp: 1, rs: 1, ct: 1, open: true },
  'good-primary': { sp: 1, rs: 0.995, ct: 1, open: false },
  'bad-primary': { sp: 0.8, rs: 0.9, ct: 0.5, open: false },
};

let prom: RunningPrometheus;
let server: Server;

beforeAll(async () => {
  const registry = new Registry();
  const metrics = createCollectorMetrics(registry, { podSeriesExpiryMs: 60_000 });
  for (const [workload, f] of Object.entries(WORKLOADS)) {
    const wl = { namespace: 'shop', workload };
    metrics.drain.sessionPersistence.set(wl, f.sp);
    metrics.drain.requestSuccess.set(wl, f.rs);
    metrics.drain.cleanTerminations.set(wl, f.ct);
    metrics.setOpen('shop', workload, f.open, 0);
  }
  server = createServer((_req, res) => {
    void registry.metrics().then((text) => {
      res.writeHead(200, { 'content-type': registry.contentType });
      res.end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  prom = await startPrometheus({
    jobs: { 'drainwatch-collector': [`127.0.0.1:${port}`] },
    honorLabels: ['drainwatch-collector'],
  });
  await pollUntil(
    async () => {
      const r = await prom.query('count(drainwatch_rollout_in_progress)');
      return Number(r.data?.result[0]?.value[1]) === Object.keys(WORKLOADS).length;
    },
    { timeoutMs: 60_000, intervalMs: 250, what: 'Prometheus scraped the collector registry' },
  );
}, 120_000);

afterAll(async () => {
  await prom?.stop();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
});

/** The values of an instant vector query; throws on a PromQL error (a template that does not parse). */
async function evaluate(query: string): Promise<number[]> {
  const r = await prom.query(query);
  if (r.status !== 'success') throw new Error(`${r.errorType}: ${r.error}\n${query}`);
  return (r.data?.result ?? []).map((s) => Number(s.value[1]));
}

describe('progressive-delivery examples', () => {
  it('name only series of the collector catalogue, and only arguments they declare', () => {
    const known = new Set(Object.values(DRAIN_METRICS).map((m) => m.name));
    const queries = [
      ...argo.spec.metrics.map((m) => m.provider.prometheus.query),
      ...flaggerTemplates.map((t) => t.spec.query),
    ];
    for (const q of queries) {
      const series = q.match(/drainwatch_[a-z_]+/g) ?? [];
      expect(series.length).toBeGreaterThan(0);
      for (const s of series) expect(known, s).toContain(s);
    }
    const declared = new Set(argo.spec.args.map((a) => a.name));
    for (const m of argo.spec.metrics)
      for (const [, name] of JSON.stringify(m).matchAll(/\{\{args\.([\w-]+)\}\}/g))
        expect(declared).toContain(name);
    for (const t of flaggerTemplates)
      for (const [, v] of t.spec.query.matchAll(/\{\{\s*([\w.]+)\s*\}\}/g))
        expect(['namespace', 'target', 'interval'], v).toContain(v);
    const templateNames = flaggerTemplates.map((t) => t.metadata.name);
    for (const m of canary.spec.analysis.metrics) expect(templateNames).toContain(m.templateRef.name);
  });

  it('Argo Rollouts: a clean rollout passes, a lossy one fails, an open or unseen one is inconclusive', async () => {
    const verdicts: Record<string, Record<string, string>> = {};
    for (const workload of ['good', 'bad', 'open', 'unseen']) {
      verdicts[workload] = {};
      for (const m of argo.spec.metrics) {
        const query = m.provider.prometheus.query
          .replaceAll('{{args.namespace}}', 'shop')
          .replaceAll('{{args.workload}}', workload);
        (verdicts[workload] as Record<string, string>)[m.name] = argoVerdict(m, await evaluate(query));
      }
    }
    const all = (v: string) => Object.fromEntries(argo.spec.metrics.map((m) => [m.name, v]));
    expect(verdicts).toEqual({
      good: all('Successful'),
      bad: all('Failed'),
      open: all('Inconclusive'),
      unseen: all('Inconclusive'),
    });
  });

  it('Flagger: thresholds pass the clean primary, fail the lossy one, and halt on an open or unseen one', async () => {
    const verdict = async (target: string): Promise<Record<string, string>> => {
      const out: Record<string, string> = {};
      for (const m of canary.spec.analysis.metrics) {
        const template = flaggerTemplates.find((t) => t.metadata.name === m.templateRef.name);
        const query = (template?.spec.query ?? '')
          .replaceAll('{{ namespace }}', 'shop')
          .replaceAll('{{ target }}', target)
          .replaceAll('{{ interval }}', m.interval ?? '1m');
        const [value] = await evaluate(query);
        const { min = -Infinity, max = Infinity } = m.thresholdRange;
        out[m.name] =
          value === undefined ? 'halted: no values found' : value >= min && value <= max ? 'pass' : 'fail';
      }
      return out;
    };
    const all = (v: string) => Object.fromEntries(canary.spec.analysis.metrics.map((m) => [m.name, v]));
    expect(await verdict('good')).toEqual(all('pass'));
    expect(await verdict('bad')).toEqual(all('fail'));
    expect(await verdict('open')).toEqual(all('halted: no values found'));
    expect(await verdict('unseen')).toEqual(all('halted: no values found'));
  });

  it('the open-rollout guard is what keeps an open rollout from passing', async () => {
    const m = argo.spec.metrics[0];
    if (!m) throw new Error('no metric');
    const unguarded = m.provider.prometheus.query
      .split('\n')[0]
      ?.replaceAll('{{args.namespace}}', 'shop')
      .replaceAll('{{args.workload}}', 'open');
    expect(argoVerdict(m, await evaluate(unguarded ?? ''))).toBe('Successful');
  });
});
