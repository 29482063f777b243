import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_INJECT_OPTIONS } from '../../kube/config.js';
import { pollUntil } from '../../lib/wait.js';
import { createTestStream } from '../helpers/agent-harness.js';
import { parseCopy } from '../helpers/dockerfile.js';
import { buildContext, cleanEnv, type ReplayedImage, replayImages } from '../helpers/image-replay.js';
import {
  ancestorNodeModules,
  loadEveryModule,
  moduleGraph,
  packageName,
  treeBytes,
} from '../helpers/module-graph.js';
import { natsClient, startTestServers, type TestServers, testNamespace } from '../helpers/servers.js';

// Replays the container image builds without a Docker engine (none runs on the build machine): the
// `docker build` commands docs/kubernetes.md gives, each Dockerfile's build stage in a temporary
// directory, the runtime stage's tree from its COPY --from lines, then the image's ENTRYPOINT + CMD
// started from that tree alone. Catches a missing COPY, a module or package the tree lacks (lazy
// imports included), a dev dependency needed at run time, and a tree over its size budget.

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const DOCS = readFileSync(join(REPO, 'docs/kubernetes.md'), 'utf8');
const PKG = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
  version: string;
  dependencies: Record<string, string>;
};

interface BuildCommand {
  readonly line: string;
  readonly name: string;
  readonly dockerfile: string;
  readonly tag: string;
}

/** `docker build -f <Dockerfile> -t <tag> .` lines of docs/kubernetes.md. */
function documentedBuilds(): BuildCommand[] {
  return [...DOCS.matchAll(/^docker build -f (\S+) -t (\S+) \.$/gm)].map((m) => ({
    line: m[0],
    dockerfile: m[1] as string,
    tag: m[2] as string,
    name: /\/([\w-]+):/.exec(m[2] as string)?.[1] ?? '',
  }));
}

/** Size budgets (bytes) from the docs table: `| agent | … | <measured> MB | <budget> MB |`. */
function documentedBudget(name: string): number {
  const m = new RegExp(`^\\| ${name} \\|.*\\| [\\d.]+ MB \\| (\\d+) MB \\|$`, 'm').exec(DOCS);
  if (!m) throw new Error(`docs/kubernetes.md has no size budget row for ${name}`);
  return Number(m[1]) * 1e6;
}

const BUILDS = documentedBuilds();
let work: string;
let images: Map<string, ReplayedImage>;
let servers: TestServers;
let nc: NatsConnection;
const children: ChildProcess[] = [];

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'drainwatch-images-'));
  servers = await startTestServers();
  nc = await natsClient(servers.nats);
  const t0 = Date.now();
  const replayed = await replayImages(
    REPO,
    BUILDS.map((b) => b.dockerfile),
    work,
  );
  images = new Map(BUILDS.map((b, i) => [b.name, replayed[i] as ReplayedImage]));
  console.log(`replayed ${BUILDS.length} image builds in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}, 900_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await nc?.close();
  await servers?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
}, 300_000);

function image(name: string): ReplayedImage {
  const img = images.get(name);
  if (!img) throw new Error(`no replayed image ${name}`);
  return img;
}

interface Started {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  output(): string;
}

/** Starts the image's ENTRYPOINT with `args` (default: its CMD) from its tree, in its WORKDIR. */
function start(img: ReplayedImage, env: Record<string, string>, args?: string[]): Started {
  const [node, ...launch] = img.launch as [string, ...string[]];
  const child = spawn(node, [...launch, ...(args ?? img.cmd)], {
    cwd: img.workdir,
    env: cleanEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  const keep = (c: Buffer) => {
    out = (out + c.toString()).slice(-8000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, output: () => out };
}

function waitFor(s: Started, re: RegExp, what: string): Promise<RegExpExecArray> {
  return pollUntil(
    () => {
      if (s.child.exitCode !== null)
        throw new Error(`exited ${s.child.exitCode} before ${what}: ${s.output()}`);
      return re.exec(s.output()) ?? undefined;
    },
    { timeoutMs: 30_000, intervalMs: 50, what, fatal: () => true },
  );
}

function runOnce(img: ReplayedImage, args: string[]) {
  const [node, ...launch] = img.launch as [string, ...string[]];
  const r = spawnSync(node, [...launch, ...args], {
    cwd: img.workdir,
    env: cleanEnv(),
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('container images (replayed builds, no Docker engine)', () => {
  it('docs/kubernetes.md builds both images with the commands their Dockerfiles name', () => {
    expect(BUILDS.map((b) => b.name).sort()).toEqual(['agent', 'collector']);
    for (const b of BUILDS) {
      expect(readFileSync(join(REPO, b.dockerfile), 'utf8')).toContain(`#   ${b.line}\n`);
    }
    // The tag inject writes into pods by default is the one the docs build.
    const agent = BUILDS.find((b) => b.name === 'agent');
    expect(agent?.tag.replace('$VERSION', PKG.version)).toBe(DEFAULT_INJECT_OPTIONS.agentImage);
    const deployment = readFileSync(join(REPO, 'manifests/collector/deployment.yaml'), 'utf8');
    const collector = BUILDS.find((b) => b.name === 'collector');
    expect(deployment).toContain(`image: ${collector?.tag.replace('$VERSION', PKG.version)}`);
  });

  it.each(['agent', 'collector'])(
    '%s: every stage is Node 20, the major of the node standing in for it',
    (name) => {
      for (const stage of image(name).stages) {
        expect(/node(?:js)?:?(\d+)/.exec(stage.image)?.[1], stage.image).toBe(
          process.versions.node.split('.')[0],
        );
      }
    },
  );

  it.each(['agent', 'collector'])('%s: the .dockerignore admits exactly what the COPY lines take', (name) => {
    const img = image(name);
    const sources = img.stages
      .flatMap((s) => s.steps)
      .filter((s) => s.keyword === 'COPY')
      .map(parseCopy)
      .filter((c) => c.from === undefined)
      .flatMap((c) => c.sources.map((s) => s.replace(/\/$/, '')));
    const unused = buildContext(REPO, img.dockerfile).filter(
      (f) => !sources.some((s) => f === s || f.startsWith(`${s}/`)),
    );
    expect(unused).toEqual([]);
  });

  it.each(['agent', 'collector'])(
    '%s: every module the entrypoint can load is in the tree and loads from it',
    (name) => {
      const img = image(name);
      expect(ancestorNodeModules(img.workdir).map((d) => relative(img.workdir, d))).toEqual(['node_modules']);
      const graph = moduleGraph(img.script);
      expect(graph.missing).toEqual([]);
      expect(graph.unfollowable).toEqual([]);
      expect(loadEveryModule(img.workdir, graph)).toEqual([]);
    },
  );

  it.each(['agent', 'collector'])(
    '%s: package.json declares exactly the packages the entrypoint imports, at the lockfile versions',
    (name) => {
      const img = image(name);
      const readJson = <T>(path: string) => JSON.parse(readFileSync(path, 'utf8')) as T;
      const declared = readJson<typeof PKG>(join(img.workdir, 'package.json')).dependencies;
      const imported = [...new Set(moduleGraph(img.script).packages.map(packageName))].sort();
      expect(Object.keys(declared).sort()).toEqual(imported);
      const locked = readJson<{ packages: Record<string, { version: string }> }>(
        join(REPO, 'package-lock.json'),
      ).packages;
      for (const [pkg, range] of Object.entries(declared)) {
        expect(range, pkg).toBe(PKG.dependencies[pkg]);
        const installed = readJson<typeof PKG>(
          join(img.workdir, 'node_modules', pkg, 'package.json'),
        ).version;
        expect(installed, pkg).toBe(locked[`node_modules/${pkg}`]?.version);
      }
    },
  );

  it.each(['agent', 'collector'])(
    '%s: node_modules + dist stay within the size budget in docs/kubernetes.md',
    (name) => {
      const img = image(name);
      const bytes = treeBytes(join(img.workdir, 'node_modules')) + treeBytes(join(img.workdir, 'dist'));
      console.log(`${name} image tree: ${(bytes / 1e6).toFixed(1)} MB`);
      expect(bytes).toBeLessThanOrEqual(documentedBudget(name));
    },
  );

  it.each([
    ['agent', ['agent', '--help'], 'Usage: drainwatch agent'],
    ['agent', ['--help'], 'agent'],
    ['collector', ['collector', '--help'], 'Usage: drainwatch collector'],
    ['collector', ['report', '--help'], 'Usage: drainwatch report'],
  ])('%s image: %j exits 0', (name, args, text) => {
    const r = runOnce(image(name), args as string[]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(text);
  });

  it.each(['agent', 'collector'])('%s image: --version prints package.json version', (name) => {
    const r = runOnce(image(name), ['--version']);
    expect(r.out.trim()).toBe(PKG.version);
  });

  it('agent image: proxies a request to the app and exits 0 on SIGTERM', async () => {
    const app: Server = createServer((_req, res) => res.end('hello from the app'));
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    const ns = testNamespace();
    await createTestStream(nc, ns);
    const agent = start(image('agent'), {
      DRAINWATCH_LISTEN: '127.0.0.1:0',
      DRAINWATCH_ADMIN: '127.0.0.1:0',
      DRAINWATCH_UPSTREAM: `127.0.0.1:${(app.address() as AddressInfo).port}`,
      NATS_URL: servers.nats.url,
      POD_NAME: 'web-abc123def-zz9zz',
      POD_NAMESPACE: 'shop',
      DRAINWATCH_SUBJECT_ROOT: ns.subjectRoot,
    });
    const m = await waitFor(agent, /listening traffic=(\S+) admin=(\S+)/, 'the agent to listen');
    const res = await fetch(`http://${m[1]}/`);
    expect(await res.text()).toBe('hello from the app');
    agent.child.kill('SIGTERM');
    await new Promise<void>((resolve) => app.close(() => resolve()));
    expect(await agent.exited, agent.output()).toBe(0);
  });

  it('collector image: becomes ready against real NATS and Redis and exits 0 on SIGTERM', async () => {
    const ns = testNamespace();
    const collector = start(image('collector'), {
      DRAINWATCH_LISTEN: '127.0.0.1:0',
      NATS_URL: servers.nats.url,
      REDIS_URL: servers.redis.url,
      DRAINWATCH_REDIS_PREFIX: ns.redisPrefix,
      DRAINWATCH_SUBJECT_ROOT: ns.subjectRoot,
      DRAINWATCH_STREAM: ns.streamName,
    });
    const m = await waitFor(collector, /listening on http:\/\/[^:\s]+:(\d+)/, 'the collector to listen');
    const status = await pollUntil(
      async () => {
        const r = await fetch(`http://127.0.0.1:${m[1]}/readyz`);
        return r.status === 200 ? r.status : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: 'collector /readyz 200' },
    );
    expect(status).toBe(200);
    collector.child.kill('SIGTERM');
    expect(await collector.exited, collector.output()).toBe(0);
  });
});
