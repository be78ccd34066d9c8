/**
 * One peer, one round: start it on the preloaded input, poll the broker until its committed offsets reach the
 * input's end, read the figures only it can give, stop it, and turn the samples into RoundFigures.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { OffsetProbe } from './offsets.js';
import type { BenchContext, PeerDefinition, RunNames } from './peers.js';
import { readCpuTicks, readMemory } from './proc.js';
import { sustainedThroughput, type ProgressSample } from './progress.js';
import type { RoundFigures } from './types.js';

export interface ThroughputRunOptions {
  pollMs: number;
  /** Give up on a peer that has not reached zero lag after this long. */
  timeoutMs: number;
  /** Give up on a peer whose committed offsets have not moved for this long (start-up included). */
  stallMs: number;
  clockTicksPerSecond: number;
}

export interface ThroughputRun {
  figures: Omit<RoundFigures, 'round' | 'slot'>;
  samples: ProgressSample[];
  topics: string[];
}

const MB = 1024 * 1024;
/** How long a peer that ends by itself (R0) gets after zero lag to print its figures and exit. */
const SELF_EXIT_WAIT_MS = 30_000;

/** When the committed offsets last moved (ms since start; 0 if never). */
function lastProgressAt(samples: readonly ProgressSample[]): number {
  for (let i = samples.length - 1; i > 0; i--) {
    const here = samples[i];
    if (here && here.committed !== samples[i - 1]?.committed) return here.atMs;
  }
  return 0;
}

export async function runThroughput(
  peer: PeerDefinition,
  context: BenchContext,
  names: RunNames,
  probe: OffsetProbe,
  inputEnd: number,
  options: ThroughputRunOptions,
): Promise<ThroughputRun> {
  for (const topic of peer.outputTopics(names)) await probe.createTopic(topic, context.partitions);
  const launched = await peer.launch(context, names);
  const { child } = launched;
  const startedAt = Date.now();
  const samples: ProgressSample[] = [];
  let peakRss = 0;

  const sample = async (): Promise<ProgressSample> => {
    const cpuTicks = readCpuTicks(child.pid);
    const memory = readMemory(child.pid);
    if (memory) peakRss = Math.max(peakRss, memory.rssBytes, memory.peakRssBytes);
    const committed = await probe.committed(launched.groupId, names.inputTopic);
    const point = { atMs: Date.now() - startedAt, committed, end: inputEnd, cpuTicks };
    samples.push(point);
    return point;
  };

  /** Polls until zero lag; returns why it stopped short, or null. */
  const watch = async (): Promise<string | null> => {
    for (;;) {
      const tickAt = Date.now();
      if (!child.isRunning) {
        // A last look: a tool that stops by itself (R0) commits its final offsets as it closes.
        const last = await sample();
        if (last.committed >= inputEnd) return null;
        const exit = await child.exited;
        return `${peer.id} exited (code ${exit.code}, signal ${exit.signal}) at lag ${inputEnd - last.committed}; see ${names.logFile}`;
      }
      if (tickAt - startedAt > options.timeoutMs) {
        return `${peer.id} did not reach zero lag within ${options.timeoutMs / 1000} s; see ${names.logFile}`;
      }
      if (tickAt - startedAt - lastProgressAt(samples) > options.stallMs) {
        return `${peer.id} made no progress for ${options.stallMs / 1000} s; see ${names.logFile}`;
      }
      if ((await sample()).committed >= inputEnd) return null;
      await sleep(Math.max(0, options.pollMs - (Date.now() - tickAt)));
    }
  };
  // Whatever goes wrong while watching, the peer is still stopped below.
  let error = await watch().catch((caught: unknown) =>
    caught instanceof Error ? caught.message : String(caught),
  );

  if (error === null && peer.exitsByItself) {
    const cancel = new AbortController();
    await Promise.race([
      child.exited,
      sleep(SELF_EXIT_WAIT_MS, undefined, { signal: cancel.signal }).catch(() => undefined),
    ]);
    cancel.abort();
  }
  const extras = child.isRunning ? await launched.beforeStop().catch(() => ({})) : {};
  const totalTicks = readCpuTicks(child.pid) ?? samples.findLast((s) => s.cpuTicks !== undefined)?.cpuTicks;
  const memory = readMemory(child.pid);
  if (memory) peakRss = Math.max(peakRss, memory.peakRssBytes);
  const exit = await child.stop('SIGTERM');
  if (error === null && exit.code !== 0 && exit.code !== null && exit.code !== 143) {
    error = `${peer.id} stopped with exit code ${exit.code}; see ${names.logFile}`;
  }
  const printed = launched.afterExit();

  const sustained = sustainedThroughput(samples);
  const selfReported = printed.selfReportedRps ?? null;
  const headline =
    peer.throughputFrom === 'self' && selfReported !== null ? selfReported : sustained.recordsPerSecond;
  const tickUs = 1e6 / options.clockTicksPerSecond;
  const perRecordUs = (ticks: number | null | undefined, records: number): number | null =>
    ticks === null || ticks === undefined || records <= 0 ? null : (ticks * tickUs) / records;
  const seconds = (ms: number | null): number | null => (ms === null ? null : ms / 1000);
  return {
    figures: {
      ok: error === null && headline !== null,
      error: error ?? (headline === null ? 'too few progress samples' : null),
      throughputRps: headline,
      brokerRps: sustained.recordsPerSecond,
      sustainedS: sustained.recordsPerSecond === null ? null : sustained.seconds,
      startupS: seconds(sustained.firstProgressAtMs),
      zeroLagS: seconds(sustained.zeroLagAtMs),
      cpuUsPerRecord: perRecordUs(sustained.cpuTicks, sustained.records),
      cpuUsPerRecordTotal: perRecordUs(totalTicks, inputEnd),
      peakRssMb: peakRss > 0 ? peakRss / MB : null,
      commitP50Ms: null,
      commitP99Ms: null,
      commits: null,
      selfReportedRps: null,
      ...extras,
      ...printed,
    },
    samples,
    topics: launched.topics,
  };
}
