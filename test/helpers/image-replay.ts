import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import {
  type CopyArgs,
  dockerignoreFilter,
  type Instruction,
  parseCopy,
  parseDockerfile,
  parseExecForm,
  type Stage,
} from './dockerfile.js';

// Replays `docker build -f <Dockerfile> .` on the host: each stage's filesystem is a directory in
// which container paths are rebased (`/src` → `<root>/src`), COPY takes files from the build
// context (the repository's files that the Dockerfile's .dockerignore admits) or from an earlier
// stage, and RUN runs with the host's sh, node and npm (npm offline, from the local cache).
// `/nodejs/bin/node` of the distroless runtime stands for the host's node.

export interface ReplayedImage {
  readonly dockerfile: string;
  readonly stages: readonly Stage[];
  /** Host directory holding the final stage's filesystem. */
  readonly root: string;
  /** Host path of the final stage's WORKDIR. */
  readonly workdir: string;
  /** ENTRYPOINT + CMD with container paths rebased onto the host. */
  readonly argv: readonly string[];
  /** The start of argv up to the entrypoint script: node, its flags (--max-semi-space-size=…), the script. */
  readonly launch: readonly string[];
  /** The entrypoint script (host path): the first argument after node that is not a flag. */
  readonly script: string;
  /** What follows the script in argv: the image's CMD (and any ENTRYPOINT arguments after the script). */
  readonly cmd: readonly string[];
}

interface StageState {
  root: string;
  workdir: string;
  entrypoint: string[];
  cmd: string[];
}

/** Files of the repository as a clean checkout has them (tracked plus new, never ignored ones). */
export function checkoutFiles(repo: string): string[] {
  const r = spawnSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], {
    cwd: repo,
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`git ls-files failed: ${r.stderr}`);
  return r.stdout.split('\0').filter((f) => f !== '');
}

/** The build context: checkout files that `<dockerfile>.dockerignore` admits. */
export function buildContext(repo: string, dockerfile: string): string[] {
  const admit = dockerignoreFilter(readFileSync(join(repo, `${dockerfile}.dockerignore`), 'utf8'));
  return checkoutFiles(repo).filter(admit);
}

/** An environment without the test runner's node_modules/.bin on PATH nor its npm settings. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const path = (process.env.PATH ?? '')
    .split(':')
    .filter((p) => !p.includes('node_modules'))
    .join(':');
  return { PATH: path, HOME: process.env.HOME ?? '/root', LANG: 'C.UTF-8', ...extra };
}

const RUN_ENV = cleanEnv({
  npm_config_offline: 'true',
  npm_config_audit: 'false',
  npm_config_fund: 'false',
  npm_config_update_notifier: 'false',
  npm_config_loglevel: 'error',
  ...(process.env.npm_config_cache ? { npm_config_cache: process.env.npm_config_cache } : {}),
});

function run(cmd: string, args: string[], cwd: string, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: RUN_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const keep = (c: Buffer) => {
      out = (out + c.toString()).slice(-6000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${what} exited ${code}:\n${out.trim()}`)),
    );
  });
}

function onHost(state: StageState, containerPath: string): string {
  return join(state.root, posix.resolve(state.workdir, containerPath));
}

async function copy(
  state: StageState,
  c: CopyArgs,
  step: Instruction,
  build: BuildInputs,
  stageRoots: ReadonlyMap<string, string>,
): Promise<void> {
  const intoDir = c.dest.endsWith('/') || c.sources.length > 1;
  for (const source of c.sources) {
    const target = onHost(state, intoDir ? posix.join(c.dest, posix.basename(source)) : c.dest);
    mkdirSync(dirname(target), { recursive: true });
    if (c.from !== undefined) {
      const fromRoot = stageRoots.get(c.from);
      if (!fromRoot) throw new Error(`line ${step.line}: no stage named ${c.from}`);
      // Hard links: neither stage's files change after this point, and linking is what keeps the
      // replay fast on a loaded machine.
      await run('cp', ['-al', join(fromRoot, source), target], fromRoot, `line ${step.line} COPY ${source}`);
      continue;
    }
    const src = posix.normalize(source).replace(/\/$/, '');
    const files = build.context.filter((f) => f === src || f.startsWith(`${src}/`));
    if (files.length === 0) throw new Error(`line ${step.line}: COPY ${source}: not in the build context`);
    for (const f of files) {
      const to = f === src ? target : join(target, f.slice(src.length + 1));
      mkdirSync(dirname(to), { recursive: true });
      copyFileSync(join(build.repo, f), to);
    }
  }
}

interface BuildInputs {
  readonly repo: string;
  readonly context: readonly string[];
}

async function replaySteps(
  state: StageState,
  steps: readonly Instruction[],
  build: BuildInputs,
  stageRoots: ReadonlyMap<string, string>,
): Promise<void> {
  for (const step of steps) {
    switch (step.keyword) {
      case 'WORKDIR':
        state.workdir = posix.resolve(state.workdir, step.args);
        mkdirSync(onHost(state, '.'), { recursive: true });
        break;
      case 'COPY':
        await copy(state, parseCopy(step), step, build, stageRoots);
        break;
      case 'RUN':
        await run('/bin/sh', ['-c', step.args], onHost(state, '.'), `line ${step.line} RUN ${step.args}`);
        break;
      case 'ENTRYPOINT':
        state.entrypoint = parseExecForm(step);
        break;
      case 'CMD':
        state.cmd = parseExecForm(step);
        break;
      default: // USER, EXPOSE: no effect on the files
    }
  }
}

/** What a step depends on: its text, and for a COPY from the context the files it takes. */
function stepKey(step: Instruction, context: readonly string[]): string {
  if (step.keyword !== 'COPY') return `${step.keyword} ${step.args}`;
  const c = parseCopy(step);
  if (c.from !== undefined) return `COPY ${step.args}`;
  const files = context.filter((f) =>
    c.sources.some((s) => f === s || f.startsWith(`${s.replace(/\/$/, '')}/`)),
  );
  return `COPY ${step.args} ${files.join(',')}`;
}

/** How many leading steps of the first stage every build shares, as Docker's layer cache would. */
function sharedPrefix(
  builds: ReadonlyArray<{ stages: readonly Stage[]; context: readonly string[] }>,
): number {
  const [first, ...rest] = builds;
  const head = first?.stages[0];
  if (!first || !head || rest.some((b) => b.stages[0]?.image !== head.image)) return 0;
  let n = 0;
  while (
    n < head.steps.length &&
    rest.every((b) => {
      const s = b.stages[0]?.steps[n];
      return (
        s !== undefined && stepKey(s, b.context) === stepKey(head.steps[n] as Instruction, first.context)
      );
    })
  ) {
    n++;
  }
  return n;
}

const HOST_NODE: Readonly<Record<string, string>> = { '/nodejs/bin/node': process.execPath };

/**
 * Replays each Dockerfile (paths relative to `repo`, the build context `.`) under `workRoot`. The
 * leading steps all first stages share (`npm ci` on the same lockfile) run once and are copied.
 * Throws the failing step's line and output.
 */
export async function replayImages(
  repo: string,
  dockerfiles: readonly string[],
  workRoot: string,
): Promise<ReplayedImage[]> {
  const builds = dockerfiles.map((dockerfile) => ({
    dockerfile,
    stages: parseDockerfile(readFileSync(join(repo, dockerfile), 'utf8')),
    context: buildContext(repo, dockerfile),
  }));
  const shared = sharedPrefix(builds);
  const sharedState: StageState = { root: join(workRoot, 'shared'), workdir: '/', entrypoint: [], cmd: [] };
  mkdirSync(sharedState.root, { recursive: true });
  const head = builds[0]?.stages[0]?.steps.slice(0, shared) ?? [];
  await replaySteps(sharedState, head, { repo, context: builds[0]?.context ?? [] }, new Map());
  const firstRoots = builds.map((_, i) => join(workRoot, `image${i}`, 'stage0'));
  for (const [i, root] of firstRoots.entries()) {
    mkdirSync(dirname(root), { recursive: true });
    if (i < firstRoots.length - 1)
      await run('cp', ['-a', sharedState.root, root], workRoot, 'copy shared layers');
    else renameSync(sharedState.root, root);
  }
  const settled = await Promise.allSettled(
    builds.map(async (b, i): Promise<ReplayedImage> => {
      const stageRoots = new Map<string, string>();
      let state: StageState = { ...sharedState, root: firstRoots[i] as string };
      for (const [n, stage] of b.stages.entries()) {
        if (n > 0) {
          state = { root: join(workRoot, `image${i}`, `stage${n}`), workdir: '/', entrypoint: [], cmd: [] };
          mkdirSync(state.root, { recursive: true });
        }
        await replaySteps(
          state,
          n === 0 ? stage.steps.slice(shared) : stage.steps,
          { repo, context: b.context },
          stageRoots,
        );
        stageRoots.set(stage.name ?? String(n), state.root);
      }
      const argv = [...state.entrypoint, ...state.cmd].map((a, k) =>
        k === 0 && HOST_NODE[a] ? HOST_NODE[a] : a.startsWith('/') ? join(state.root, a) : a,
      );
      const at = argv.findIndex((a, k) => k > 0 && !a.startsWith('-'));
      if (at < 0) throw new Error(`${b.dockerfile}: no script in ENTRYPOINT + CMD ${JSON.stringify(argv)}`);
      return {
        dockerfile: b.dockerfile,
        stages: b.stages,
        root: state.root,
        workdir: onHost(state, '.'),
        argv,
        launch: argv.slice(0, at + 1),
        script: argv[at]!,
        cmd: argv.slice(at + 1),
      };
    }),
  );
  // Every build has ended (none still writing under workRoot) before a failure is reported.
  const failed = settled.flatMap((r, i) =>
    r.status === 'rejected' ? [`${dockerfiles[i]}: ${String(r.reason)}`] : [],
  );
  if (failed.length > 0) throw new Error(failed.join('\n\n'));
  return settled.map((r) => (r as PromiseFulfilledResult<ReplayedImage>).value);
}
