#!/usr/bin/env node
/**
 * `npm run bench:soak -- [--minutes 30] [--rate 30000] [--hosts 10000] [--sample-s 10] [--warm-up-s 300]`:
 * whether the stage's memory stays flat. One `eos-rollup run` (exactly-once, 1 s commits) on the shared stack
 * under a steady live load (event time = wall clock, so windows open and close as in production) for the given
 * minutes; every `--sample-s` its RSS (/proc) and V8 heap (its /metrics) and the group's lag. Then the load stops,
 * the stage drains and stops cleanly. Writes bench/results/soak/latest.{json,md,svg}; the verdict is in
 * bench/lib/memory-soak.ts. Load the shared stack's addresses first (set -a; . .stack/env; set +a).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../scripts/stack/local-stack.js';
import { Child } from './lib/children.js';
import { LiveLoad, loadLogFile } from './lib/live-load.js';
import { renderSoakMarkdown, renderSoakSvg, summarizeSoak, type MemorySample } from './lib/memory-soak.js';
import { totalCommitted } from './lib/offsets.js';
import { gitCommit } from './lib/machine.js';
import { scrape, stageEnv } from './lib/peers.js';
import { readMemory } from './lib/proc.js';
import { parseSamples } from './lib/prometheus.js';
import { openSharedStack } from './lib/shared-stack.js';

const PARTITIONS = 6;
const WINDOW_MS = 60_000;
const MB = 2 ** 20;

function log(line: string): void {
  console.log(`[soak ${new Date().toISOString().slice(11, 19)}] ${line}`);
}

function count(name: string, text: string, min: number): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min) throw new Error(`--${name} ${text}: not a count ≥ ${min}`);
  return value;
}

/** The stage's heap in MB from its /metrics, or nulls when the scrape failed (the sample keeps its RSS). */
async function heapOf(port: number): Promise<{ used: number | null; total: number | null }> {
  const text = await scrape(port);
  const samples = text === undefined ? [] : parseSamples(text);
  const mb = (name: string) => {
    const value = samples.find((s) => s.name === name)?.value;
    return value === undefined ? null : value / MB;
  };
  return { used: mb('nodejs_heap_size_used_bytes'), total: mb('nodejs_heap_size_total_bytes') };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '30' },
      rate: { type: 'string', default: '30000' },
      hosts: { type: 'string', default: '10000' },
      'sample-s': { type: 'string', default: '10' },
      'warm-up-s': { type: 'string', default: '300' },
    },
  });
  const minutes = count('minutes', values.minutes, 1);
  const rate = count('rate', values.rate, 1);
  const hosts = count('hosts', values.hosts, 1);
  const sampleS = count('sample-s', values['sample-s'], 1);
  const warmUpS = count('warm-up-s', values['warm-up-s'], 0);
  const { probe, context, close } = await openSharedStack('soak', {
    partitions: PARTITIONS,
    windowMs: WINDOW_MS,
    hosts,
  });
  const appId = `${context.tag}-stage`;
  const inputTopic = `${context.tag}-input`;
  const samples: MemorySample[] = [];
  let stage: Child | undefined;
  let load: LiveLoad | undefined;
  try {
    await probe.createTopic(inputTopic, PARTITIONS);
    const port = await freePort();
    const logFile = join(context.logDir, `${appId}.log`);
    stage = Child.start(
      appId,
      process.execPath,
      [join(context.root, 'dist', 'src', 'cli', 'main.js'), 'run'],
      {
        logFile,
        env: {
          ...stageEnv(context, { appId, inputTopic, inputRecords: 0, logFile }, 1000),
          PROCESSING_GUARANTEE: 'exactly_once',
          METRICS_PORT: String(port),
          INSTANCE_ID: `${appId}-1`,
        },
      },
    );
    load = await LiveLoad.start(context, {
      topic: inputTopic,
      ratePerSecond: rate,
      hosts,
      partitions: PARTITIONS,
      logFile: loadLogFile(logFile),
    });
    const startedAt = Date.now();
    const endAt = startedAt + minutes * 60_000;
    log(`stage pid ${stage.pid}, ${rate} records/s for ${minutes} minutes; log ${logFile}`);
    for (let next = startedAt; next <= endAt; next += sampleS * 1000) {
      await sleep(Math.max(0, next - Date.now()));
      if (!stage.isRunning) throw new Error(`the stage exited; see ${logFile}`);
      const memory = readMemory(stage.pid);
      if (memory === undefined) throw new Error(`the stage is gone; see ${logFile}`);
      const heap = await heapOf(port);
      const committed = totalCommitted(await probe.committedByPartition(appId, inputTopic));
      const end = await probe.endOffset(inputTopic);
      const sample: MemorySample = {
        atS: (Date.now() - startedAt) / 1000,
        rssMb: memory.rssBytes / MB,
        heapUsedMb: heap.used,
        heapTotalMb: heap.total,
        committed,
        lag: Math.max(0, end - committed),
      };
      samples.push(sample);
      if (samples.length % Math.max(1, Math.round(60 / sampleS)) === 0)
        log(
          `${(sample.atS / 60).toFixed(1)} min: RSS ${sample.rssMb.toFixed(0)} MB, heap used ${sample.heapUsedMb?.toFixed(0) ?? '-'} MB, lag ${sample.lag}`,
        );
    }
    await load.stop();
    load = undefined;
    const exit = await stage.stop('SIGTERM');
    if (exit.code !== 0)
      throw new Error(`the stage did not stop cleanly (${JSON.stringify(exit)}); see ${logFile}`);
  } finally {
    await load?.stop().catch(() => undefined);
    if (stage?.isRunning) await stage.stop('SIGKILL');
    await close();
  }
  const result = {
    generatedAt: new Date().toISOString(),
    gitCommit: gitCommit(context.root),
    nodeVersion: process.version,
    minutes,
    ratePerSecond: rate,
    hosts,
    partitions: PARTITIONS,
    warmUpS,
    samples,
    ...summarizeSoak(samples, warmUpS),
  };
  const outDir = join(context.root, 'bench', 'results', 'soak');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'latest.json'), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(join(outDir, 'latest.svg'), renderSoakSvg(result));
  const report = renderSoakMarkdown(result);
  writeFileSync(join(outDir, 'latest.md'), report);
  console.log(`\n${report}`);
}

// process.exit: a kafkajs timer left behind must not keep a finished run alive.
main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`bench:soak: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
