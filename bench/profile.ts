#!/usr/bin/env node
/**
 * `npm run bench:profile -- [--records N] [--repeat N] [--label L] [--commit-interval-ms N]
 * [--commit-max-records N] [--layouts one,threads,processes] [--keep-profile] [--allocations]`: where the stage's CPU goes while it drains a
 * preloaded input. Preloads the bench workload once into the broker of KAFKA_BROKERS (the shared stack: load
 * .stack/env), then, `--repeat` times, runs `eos-rollup run` exactly-once under `node --cpu-prof` with a fresh
 * group until its committed offsets reach the input's end, stops it with SIGTERM and reads its profile.
 *
 * Prints the median over the repeats of each group's share of self time (kafkajs per file, other packages per
 * package, this project per compiled file, V8's GC and idle as they are), the top functions, records/s (broker
 * offsets, sustained) and CPU µs per record (utime + stime from /proc). The broker is shared with whatever else
 * runs on the machine, so compare shares between builds rather than absolute times. Writes
 * bench/results/profile-<label>.{json,md}. `--allocations` samples where the garbage is allocated instead
 * (lib/allocation-sampler.ts, no CPU profile): each repeat's profile-<label>-<repeat>.heapprofile is kept for
 * `bench/allocations`.
 */
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../scripts/stack/local-stack.js';
import { repoRoot } from '../scripts/stack/paths.js';
import { Child } from './lib/children.js';
import { selfTimes, type CpuProfile, type SelfTime } from './lib/cpu-profile.js';
import type { OffsetProbe } from './lib/offsets.js';
import { stageEnv, type BenchContext } from './lib/peers.js';
import { clockTicksPerSecond } from './lib/machine.js';
import { readCpuTicks, readMemory } from './lib/proc.js';
import { sustainedThroughput, type ProgressSample } from './lib/progress.js';
import { median } from './lib/stats.js';
import { openSharedStack } from './lib/shared-stack.js';
import { preloadInput, workloadStartMs } from './lib/workload.js';

const PARTITIONS = 6;
const HOSTS = 10_000;
const WINDOW_MS = 60_000;
const POLL_MS = 250;
const TIMEOUT_MS = 600_000;
const TOP = 25;

interface RepeatFigures {
  /** Absent in reports written before layouts were measured: those ran `one`. */
  layout?: Layout;
  recordsPerSecond: number | null;
  cpuUsPerRecord: number | null;
  /** Highest sum over the stage's processes of VmRSS at a sample; absent in older reports. */
  peakRssMb?: number;
  groups: SelfTime[];
  functions: SelfTime[];
}

function log(line: string): void {
  console.log(`[profile ${new Date().toISOString().slice(11, 19)}] ${line}`);
}

/**
 * How the stage runs in one repeat. `one` is the stage as shipped, and the only layout profiled; the others are
 * the second-core measurement, two group members sharing the input's partitions: as two stream threads of one
 * process (STREAM_THREADS=2) or as two processes. CPU and RSS are summed over the processes.
 */
const LAYOUTS = {
  one: 'one process, one event loop',
  threads: 'one process, STREAM_THREADS=2',
  processes: 'two processes, each a group member',
} as const;
type Layout = keyof typeof LAYOUTS;
const MEMBERS = 2;

function isLayout(name: string): name is Layout {
  return Object.hasOwn(LAYOUTS, name);
}

async function launch(
  context: BenchContext,
  layout: Layout,
  appId: string,
  env: NodeJS.ProcessEnv,
  cpuProf: string[],
): Promise<Child[]> {
  const stageMain = join(context.root, 'dist', 'src', 'cli', 'main.js');
  const logFile = (suffix: string) => join(context.logDir, `${appId}${suffix}.log`);
  const start = async (suffix: string, args: string[], extra: NodeJS.ProcessEnv) =>
    Child.start(`${appId}${suffix}`, process.execPath, [...cpuProf, ...args], {
      logFile: logFile(suffix),
      env: { ...env, METRICS_PORT: String(await freePort()), INSTANCE_ID: `${appId}${suffix}`, ...extra },
    });
  switch (layout) {
    case 'one':
      return [await start('-1', [stageMain, 'run'], {})];
    case 'processes': {
      const children: Child[] = [];
      for (let n = 1; n <= MEMBERS; n++) children.push(await start(`-${n}`, [stageMain, 'run'], {}));
      return children;
    }
    case 'threads':
      return [await start('', [stageMain, 'run'], { STREAM_THREADS: String(MEMBERS) })];
  }
}

function sumOver(children: readonly Child[], read: (pid: number) => number | undefined): number | undefined {
  let sum = 0;
  for (const child of children) {
    const value = read(child.pid);
    if (value === undefined) return undefined;
    sum += value;
  }
  return sum;
}

async function profileOnce(
  context: BenchContext,
  probe: OffsetProbe,
  inputTopic: string,
  inputEnd: number,
  repeat: number,
  tickUs: number,
  run: {
    layout: Layout;
    profiled: boolean;
    commitIntervalMs: number;
    commitMaxRecords: string | undefined;
    keepAs: string | undefined;
    /** Sample allocations into this file instead of profiling CPU. */
    allocationsTo: string | undefined;
  },
): Promise<RepeatFigures> {
  const appId = `${context.tag}-${run.layout}-p${repeat}`;
  const profileDir = mkdtempSync(join(tmpdir(), 'eos-rollup-cpuprof-'));
  const names = { appId, inputTopic, inputRecords: inputEnd, logFile: join(context.logDir, `${appId}.log`) };
  const children = await launch(
    context,
    run.layout,
    appId,
    {
      ...stageEnv(context, names, run.commitIntervalMs),
      ...(run.commitMaxRecords === undefined ? {} : { COMMIT_MAX_RECORDS: run.commitMaxRecords }),
      PROCESSING_GUARANTEE: 'exactly_once',
      ...(run.allocationsTo === undefined ? {} : { EOS_ROLLUP_ALLOCATION_PROFILE: run.allocationsTo }),
    },
    run.allocationsTo !== undefined
      ? ['--import', pathToFileURL(join(context.root, 'dist', 'bench', 'lib', 'allocation-sampler.js')).href]
      : run.profiled
        ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`]
        : [],
  );
  const started = Date.now();
  const samples: ProgressSample[] = [];
  let peakRssBytes = 0;
  try {
    for (;;) {
      const tickAt = Date.now();
      if (children.some((child) => !child.isRunning))
        throw new Error(`a stage exited before draining the input; see ${context.logDir}/${appId}*.log`);
      if (tickAt - started > TIMEOUT_MS)
        throw new Error(`not drained after ${TIMEOUT_MS / 1000} s; see ${context.logDir}/${appId}*.log`);
      const committed = await probe.committed(appId, inputTopic);
      const cpuTicks = sumOver(children, readCpuTicks);
      peakRssBytes = Math.max(peakRssBytes, sumOver(children, (pid) => readMemory(pid)?.rssBytes) ?? 0);
      samples.push({ atMs: tickAt - started, committed, end: inputEnd, cpuTicks });
      if (committed >= inputEnd) break;
      await sleep(Math.max(0, POLL_MS - (Date.now() - tickAt)));
    }
  } finally {
    for (const child of children) {
      const exit = await child.stop('SIGTERM');
      if (exit.code !== 0) log(`${child.name} exited with code ${exit.code} (signal ${exit.signal})`);
    }
    await probe.deleteEverything(appId);
  }
  const sustained = sustainedThroughput(samples);
  const figures = {
    layout: run.layout,
    recordsPerSecond: sustained.recordsPerSecond,
    cpuUsPerRecord:
      sustained.cpuTicks === null || sustained.records === 0
        ? null
        : (sustained.cpuTicks * tickUs) / sustained.records,
    peakRssMb: peakRssBytes / 2 ** 20,
    groups: [],
    functions: [],
  };
  if (!run.profiled || run.allocationsTo !== undefined) {
    rmSync(profileDir, { recursive: true, force: true });
    return figures;
  }
  const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
  if (file === undefined) throw new Error(`no .cpuprofile in ${profileDir}: did the stage exit normally?`);
  const profile = JSON.parse(readFileSync(join(profileDir, file), 'utf8')) as CpuProfile;
  if (run.keepAs !== undefined) copyFileSync(join(profileDir, file), run.keepAs);
  rmSync(profileDir, { recursive: true, force: true });
  return { ...figures, ...selfTimes(profile) };
}

/**
 * Each name's median share over the repeats (a name missing from a repeat counts 0 there), of the whole profile
 * and of its busy (not idle) time: idle grows and shrinks with the broker's latency on a shared machine.
 */
function medianShares(
  lists: readonly SelfTime[][],
  records: number,
): { name: string; share: number; busyShare: number; usPerRecord: number }[] {
  const names = new Set(lists.flatMap((list) => list.map((entry) => entry.name)));
  const busyMs = lists.map((list) => list.reduce((sum, e) => sum + (e.name === '(idle)' ? 0 : e.ms), 0));
  return [...names]
    .map((name) => {
      const found = lists.map((list) => list.find((entry) => entry.name === name));
      return {
        name,
        share: median(found.map((entry) => entry?.share ?? 0)) ?? 0,
        busyShare:
          name === '(idle)' ? 0 : (median(found.map((entry, i) => (entry?.ms ?? 0) / (busyMs[i] ?? 1))) ?? 0),
        usPerRecord: (median(found.map((entry) => entry?.ms ?? 0)) ?? 0) * (1000 / records),
      };
    })
    .sort((a, b) => b.share - a.share);
}

function percent(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}

/** The second-core comparison: each layout's medians and every repeat, in the order they ran. */
function renderLayouts(label: string, records: number, repeats: readonly RepeatFigures[]): string {
  const layouts = [...new Set(repeats.map((r) => r.layout ?? 'one'))];
  const fixed = (value: number | null | undefined, digits: number) =>
    value === null || value === undefined || Number.isNaN(value) ? '-' : value.toFixed(digits);
  const of = (layout: Layout) => repeats.filter((r) => (r.layout ?? 'one') === layout);
  const base = median(of('one').map((r) => r.recordsPerSecond ?? NaN));
  const rows = layouts.map((layout) => {
    const own = of(layout);
    const rps = median(own.map((r) => r.recordsPerSecond ?? NaN));
    return `| \`${layout}\`: ${LAYOUTS[layout]} | ${fixed(rps, 0)} | ${rps === null || base === null ? '-' : fixed(rps / base, 2)} | ${fixed(median(own.map((r) => r.cpuUsPerRecord ?? NaN)), 1)} | ${fixed(median(own.map((r) => r.peakRssMb ?? NaN)), 0)} | ${own.map((r) => fixed(r.recordsPerSecond, 0)).join(', ')} |`;
  });
  return [
    `# Layouts ${label}: ${records} records, ${repeats.length / layouts.length} repeats of each, interleaved, without a CPU profile`,
    '',
    '| layout | records/s (median) | ÷ `one` | CPU µs/record, all processes | peak RSS MB, all processes | records/s of each repeat |',
    '|---|---:|---:|---:|---:|---|',
    ...rows,
    '',
  ].join('\n');
}

function render(label: string, records: number, repeats: RepeatFigures[]): string {
  if (repeats.some((r) => r.groups.length === 0)) return renderLayouts(label, records, repeats);
  const rps = median(repeats.map((r) => r.recordsPerSecond ?? NaN));
  const cpu = median(repeats.map((r) => r.cpuUsPerRecord ?? NaN));
  const each = repeats
    .map((r) => `${r.recordsPerSecond?.toFixed(0) ?? '-'} rec/s, ${r.cpuUsPerRecord?.toFixed(1) ?? '-'} µs`)
    .join('; ');
  const table = (
    title: string,
    rows: { name: string; share: number; busyShare: number; usPerRecord: number }[],
  ): string =>
    [
      `| ${title} | share of all samples | share of busy samples | self µs per input record |`,
      '|---|---|---|---|',
      ...rows
        .slice(0, TOP)
        .map(
          (row) =>
            `| \`${row.name}\` | ${percent(row.share)} | ${percent(row.busyShare)} | ${row.usPerRecord.toFixed(2)} |`,
        ),
    ].join('\n');
  return [
    `# Profile ${label}: ${records} records, ${repeats.length} repeats`,
    '',
    `median records/s ${rps?.toFixed(0) ?? '-'}, median CPU µs/record ${cpu?.toFixed(1) ?? '-'} (each: ${each})`,
    '',
    table(
      'group',
      medianShares(
        repeats.map((r) => r.groups),
        records,
      ),
    ),
    '',
    table(
      'function',
      medianShares(
        repeats.map((r) => r.functions),
        records,
      ),
    ),
    '',
  ].join('\n');
}

const USAGE = `usage: npm run bench:profile -- [options]   (load the shared stack first: set -a; . .stack/env; set +a)
  --records <n>             records preloaded and drained [200000]
  --repeat <n>              runs of the stage, each with a fresh group [3]
  --label <name>            writes bench/results/profile-<name>.{json,md} [latest]
  --commit-interval-ms <ms> COMMIT_INTERVAL_MS of the stage [1000]
  --commit-max-records <n>  COMMIT_MAX_RECORDS of the stage [the stage's default]
  --layouts <list>          one, threads, processes; more than one compares them, unprofiled [one]
  --keep-profile            keeps each repeat's .cpuprofile for bench/callers
  --allocations             samples allocations instead of CPU: keeps each repeat's .heapprofile for
                            bench/allocations (node dist/bench/allocations.js <file> --records N)
  --report-only             renders an earlier run's JSON again
  --help                    this text`;

class UsageError extends Error {}

function parseProfileArgs() {
  try {
    return parseArgs({ options: PROFILE_OPTIONS }).values;
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

const PROFILE_OPTIONS = {
  records: { type: 'string', default: '200000' },
  repeat: { type: 'string', default: '3' },
  label: { type: 'string', default: 'latest' },
  'report-only': { type: 'boolean', default: false },
  'commit-interval-ms': { type: 'string', default: '1000' },
  // More than one: each repeat runs each layout in turn, none under the profiler (see LAYOUTS).
  layouts: { type: 'string', default: 'one' },
  // Unset: the stage's default. The stage checks the value.
  'commit-max-records': { type: 'string' },
  // Keeps each repeat's .cpuprofile as bench/results/profile-<label>-<repeat>.cpuprofile, for `bench/callers`.
  'keep-profile': { type: 'boolean', default: false },
  allocations: { type: 'boolean', default: false },
  help: { type: 'boolean', default: false },
} as const;

async function main(): Promise<void> {
  const values = parseProfileArgs();
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const records = Number(values.records);
  const repeat = Number(values.repeat);
  if (!Number.isSafeInteger(records) || records < 1)
    throw new UsageError(`--records ${values.records}: not a count`);
  if (!Number.isSafeInteger(repeat) || repeat < 1)
    throw new UsageError(`--repeat ${values.repeat}: not a count`);
  const commitIntervalMs = Number(values['commit-interval-ms']);
  if (!Number.isSafeInteger(commitIntervalMs) || commitIntervalMs < 10)
    throw new UsageError(
      `--commit-interval-ms ${values['commit-interval-ms']}: not a COMMIT_INTERVAL_MS (at least 10)`,
    );
  const layouts = values.layouts.split(',');
  const unknown = layouts.filter((layout) => !isLayout(layout));
  if (unknown.length > 0 || layouts.length === 0)
    throw new UsageError(`--layouts ${values.layouts}: each one of ${Object.keys(LAYOUTS).join(', ')}`);
  const profiled = layouts.length === 1 && layouts[0] === 'one';
  const root = repoRoot();
  const outDir = join(root, 'bench', 'results');
  if (values['report-only']) {
    // Renders an earlier run's JSON again (after a change to the report), without measuring.
    const saved = JSON.parse(readFileSync(join(outDir, `profile-${values.label}.json`), 'utf8')) as {
      records: number;
      repeats: RepeatFigures[];
    };
    const report = render(values.label, saved.records, saved.repeats);
    console.log(report);
    writeFileSync(join(outDir, `profile-${values.label}.md`), report);
    return;
  }
  const { kafka, probe, context, close } = await openSharedStack('profile', {
    partitions: PARTITIONS,
    windowMs: WINDOW_MS,
    hosts: HOSTS,
  });
  const { registryUrl, tag } = context;
  const inputTopic = `${tag}-input`;
  try {
    await probe.createTopic(inputTopic, PARTITIONS);
    const spec = { records, partitions: PARTITIONS, hosts: HOSTS, stepMs: 10_000, seed: 1 };
    const preload = await preloadInput(
      kafka,
      registryUrl,
      inputTopic,
      spec,
      workloadStartMs(spec, WINDOW_MS, Date.now()),
    );
    log(`preloaded ${preload.records} records in ${(preload.elapsedMs / 1000).toFixed(1)} s`);
    const inputEnd = await probe.endOffset(inputTopic);
    const tickUs = 1e6 / clockTicksPerSecond();
    const repeats: RepeatFigures[] = [];
    for (let i = 1; i <= repeat; i++) {
      for (const layout of layouts.filter(isLayout)) {
        const figures = await profileOnce(context, probe, inputTopic, inputEnd, i, tickUs, {
          layout,
          profiled,
          commitIntervalMs,
          commitMaxRecords: values['commit-max-records'],
          keepAs: values['keep-profile']
            ? join(outDir, `profile-${values.label}-${i}.cpuprofile`)
            : undefined,
          allocationsTo:
            values.allocations && profiled
              ? join(outDir, `profile-${values.label}-${i}.heapprofile`)
              : undefined,
        });
        log(
          `repeat ${i} ${layout}: ${figures.recordsPerSecond?.toFixed(0) ?? '-'} records/s, ${figures.cpuUsPerRecord?.toFixed(1) ?? '-'} CPU µs/record, peak RSS ${figures.peakRssMb?.toFixed(0) ?? '-'} MB`,
        );
        repeats.push(figures);
      }
    }
    const report = render(values.label, records, repeats);
    console.log(`\n${report}`);
    writeFileSync(join(outDir, `profile-${values.label}.md`), report);
    writeFileSync(
      join(outDir, `profile-${values.label}.json`),
      `${JSON.stringify({ records, repeats }, null, 2)}\n`,
    );
  } finally {
    await close();
  }
}

// process.exit: a kafkajs timer left behind must not keep a finished run alive.
main().then(
  () => process.exit(0),
  (error: unknown) => {
    if (error instanceof UsageError) {
      console.error(`bench:profile: ${error.message}\n${USAGE}`);
      process.exit(2);
    }
    console.error(
      `bench:profile: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    process.exit(1);
  },
);
