#!/usr/bin/env node
/**
 * `npm run bench:profile -- [--records N] [--repeat N] [--label L] [--commit-interval-ms N]
 * [--commit-max-records N]`: where the stage's CPU goes while it drains a
 * preloaded input. Preloads the bench workload once into the broker of KAFKA_BROKERS (the shared stack: load
 * .stack/env), then, `--repeat` times, runs `eos-rollup run` exactly-once under `node --cpu-prof` with a fresh
 * group until its committed offsets reach the input's end, stops it with SIGTERM and reads its profile.
 *
 * Prints the median over the repeats of each group's share of self time (kafkajs per file, other packages per
 * package, this project per compiled file, V8's GC and idle as they are), the top functions, records/s (broker
 * offsets, sustained) and CPU µs per record (utime + stime from /proc). The broker is shared with whatever else
 * runs on the machine, so compare shares between builds rather than absolute times. Writes
 * bench/results/profile-<label>.{json,md}.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';
import { freePort } from '../scripts/stack/local-stack.js';
import { repoRoot } from '../scripts/stack/paths.js';
import { Child } from './lib/children.js';
import { selfTimes, type CpuProfile, type SelfTime } from './lib/cpu-profile.js';
import { OffsetProbe } from './lib/offsets.js';
import { stageEnv, type BenchContext } from './lib/peers.js';
import { parseClockTicks, readCpuTicks } from './lib/proc.js';
import { sustainedThroughput, type ProgressSample } from './lib/progress.js';
import { median } from './lib/stats.js';
import { loadInventory, preloadInput, workloadStartMs } from './lib/workload.js';

const PARTITIONS = 6;
const HOSTS = 10_000;
const WINDOW_MS = 60_000;
const POLL_MS = 250;
const TIMEOUT_MS = 600_000;
const TOP = 25;

interface RepeatFigures {
  recordsPerSecond: number | null;
  cpuUsPerRecord: number | null;
  groups: SelfTime[];
  functions: SelfTime[];
}

function log(line: string): void {
  console.log(`[profile ${new Date().toISOString().slice(11, 19)}] ${line}`);
}

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    throw new Error(`${name} is not set: load the shared stack's addresses (set -a; . .stack/env; set +a)`);
  }
  return value;
}

function clockTicks(): number {
  try {
    return parseClockTicks(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));
  } catch {
    return parseClockTicks(undefined);
  }
}

async function profileOnce(
  context: BenchContext,
  probe: OffsetProbe,
  inputTopic: string,
  inputEnd: number,
  repeat: number,
  tickUs: number,
  commitIntervalMs: number,
  commitMaxRecords: string | undefined,
): Promise<RepeatFigures> {
  const appId = `${context.tag}-p${repeat}`;
  const profileDir = mkdtempSync(join(tmpdir(), 'eos-rollup-cpuprof-'));
  const logFile = join(context.logDir, `${appId}.log`);
  const names = { appId, inputTopic, inputRecords: inputEnd, logFile };
  const child = Child.start(
    appId,
    process.execPath,
    [
      '--cpu-prof',
      `--cpu-prof-dir=${profileDir}`,
      join(context.root, 'dist', 'src', 'cli', 'main.js'),
      'run',
    ],
    {
      logFile,
      env: {
        ...stageEnv(context, names, commitIntervalMs),
        ...(commitMaxRecords === undefined ? {} : { COMMIT_MAX_RECORDS: commitMaxRecords }),
        PROCESSING_GUARANTEE: 'exactly_once',
        METRICS_PORT: String(await freePort()),
        INSTANCE_ID: `${appId}-1`,
      },
    },
  );
  const started = Date.now();
  const samples: ProgressSample[] = [];
  try {
    for (;;) {
      const tickAt = Date.now();
      if (!child.isRunning) throw new Error(`the stage exited before draining the input; see ${logFile}`);
      if (tickAt - started > TIMEOUT_MS)
        throw new Error(`not drained after ${TIMEOUT_MS / 1000} s; see ${logFile}`);
      const committed = await probe.committed(appId, inputTopic);
      samples.push({ atMs: tickAt - started, committed, end: inputEnd, cpuTicks: readCpuTicks(child.pid) });
      if (committed >= inputEnd) break;
      await sleep(Math.max(0, POLL_MS - (Date.now() - tickAt)));
    }
  } finally {
    const exit = await child.stop('SIGTERM');
    if (exit.code !== 0) log(`${appId} exited with code ${exit.code} (signal ${exit.signal})`);
    await probe.deleteEverything(appId);
  }
  const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
  if (file === undefined) throw new Error(`no .cpuprofile in ${profileDir}: did the stage exit normally?`);
  const profile = JSON.parse(readFileSync(join(profileDir, file), 'utf8')) as CpuProfile;
  rmSync(profileDir, { recursive: true, force: true });
  const sustained = sustainedThroughput(samples);
  const { groups, functions } = selfTimes(profile);
  return {
    recordsPerSecond: sustained.recordsPerSecond,
    cpuUsPerRecord:
      sustained.cpuTicks === null || sustained.records === 0
        ? null
        : (sustained.cpuTicks * tickUs) / sustained.records,
    groups,
    functions,
  };
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

function render(label: string, records: number, repeats: RepeatFigures[]): string {
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

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      records: { type: 'string', default: '200000' },
      repeat: { type: 'string', default: '3' },
      label: { type: 'string', default: 'latest' },
      'report-only': { type: 'boolean', default: false },
      'commit-interval-ms': { type: 'string', default: '1000' },
      // Unset: the stage's default. The stage checks the value.
      'commit-max-records': { type: 'string' },
    },
  });
  const records = Number(values.records);
  const repeat = Number(values.repeat);
  if (!Number.isSafeInteger(records) || records < 1)
    throw new Error(`--records ${values.records}: not a count`);
  if (!Number.isSafeInteger(repeat) || repeat < 1) throw new Error(`--repeat ${values.repeat}: not a count`);
  const commitIntervalMs = Number(values['commit-interval-ms']);
  if (!Number.isSafeInteger(commitIntervalMs) || commitIntervalMs < 10)
    throw new Error(
      `--commit-interval-ms ${values['commit-interval-ms']}: not a COMMIT_INTERVAL_MS (at least 10)`,
    );
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
  const logDir = join(outDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const brokers = required('KAFKA_BROKERS');
  const registryUrl = required('SCHEMA_REGISTRY_URL');
  const kafka = new Kafka({ clientId: 'eos-rollup-profile', brokers: [brokers], logLevel: logLevel.NOTHING });
  const probe = await OffsetProbe.connect(kafka);
  const tag = `profile-${Date.now().toString(36)}`;
  const context: BenchContext = {
    root,
    brokers,
    registryUrl,
    inventoryTopic: `${tag}-inventory`,
    partitions: PARTITIONS,
    windowMs: WINDOW_MS,
    graceMs: 5000,
    sessionTimeoutMs: 10_000,
    logDir,
    tag,
    s1Jar: '',
    s1Java: '',
    s1Heap: '',
  };
  const inputTopic = `${tag}-input`;
  try {
    await probe.createTopic(context.inventoryTopic, PARTITIONS, [
      { name: 'cleanup.policy', value: 'compact' },
    ]);
    await loadInventory(kafka, registryUrl, context.inventoryTopic, HOSTS);
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
    const tickUs = 1e6 / clockTicks();
    const repeats: RepeatFigures[] = [];
    for (let i = 1; i <= repeat; i++) {
      const figures = await profileOnce(
        context,
        probe,
        inputTopic,
        inputEnd,
        i,
        tickUs,
        commitIntervalMs,
        values['commit-max-records'],
      );
      log(
        `repeat ${i}: ${figures.recordsPerSecond?.toFixed(0) ?? '-'} records/s, ${figures.cpuUsPerRecord?.toFixed(1) ?? '-'} CPU µs/record`,
      );
      repeats.push(figures);
    }
    const report = render(values.label, records, repeats);
    console.log(`\n${report}`);
    writeFileSync(join(outDir, `profile-${values.label}.md`), report);
    writeFileSync(
      join(outDir, `profile-${values.label}.json`),
      `${JSON.stringify({ records, repeats }, null, 2)}\n`,
    );
  } finally {
    await probe.deleteEverything(tag).catch(() => undefined);
    await probe.close();
  }
}

// process.exit: a kafkajs timer left behind must not keep a finished run alive.
main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(
      `bench:profile: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    process.exit(1);
  },
);
