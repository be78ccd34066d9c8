/**
 * `eos-rollup lag`: the group's lag per partition of the input (committed offset, last stable offset, lag in
 * records and in seconds, owner) and a status in Burrow's vocabulary judged over a window of samples. The
 * numbers come from the lag reader the metrics use (src/kafka/operator/lag-reader.ts), the owners from
 * DescribeGroups, the verdict from src/ops/lag-status.ts.
 *
 * Default window: 5 samples 1.5 s apart (6 s). Burrow's rules judge trends, so the window needs several samples
 * (with only 2 steps, a consumer that keeps up would show "lag never decreased" by chance about one time in four;
 * with 4 steps, about one in sixteen), and enough time for a live stage to commit many times (every
 * COMMIT_INTERVAL_MS, 100 ms by default) while staying short for an interactive command.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { commandLogger } from '../command-logger.js';
import { loadConfig } from '../../config/config.js';
import { createKafka } from '../../kafka/client/client.js';
import { assertKafkajsInternals } from '../../kafkajs-internals/index.js';
import { GroupReader } from '../../kafka/operator/group-reader.js';
import { KafkaLagReader } from '../../kafka/operator/lag-reader.js';
import { missingTopics } from '../../kafka/operator/source-topics.js';
import { lagOf, lagSecondsAt } from '../../observability/lag-monitor.js';
import { LagWindow, formatLagReport, type GroupObservation, type LagReport } from '../../ops/lag-report.js';
import {
  booleanOption,
  numberValue,
  parseCommandArgs,
  stringOption,
  type CommandSpec,
} from '../arguments.js';
import { CommandError, EXIT, exitProcess } from '../exit.js';
import { Progress } from '../progress.js';
import { errorMessage } from '../../errors/message.js';

export const DEFAULT_SAMPLES = 5;
export const DEFAULT_INTERVAL_MS = 1500;

const USAGE = `usage: eos-rollup lag [--group <id>] [--topic <name>] [--samples N] [--interval-ms N] [--watch] [--json]
  --group <id>       consumer group [APP_ID]
  --topic <name>     topic whose partitions are reported [INPUT_TOPIC]
  --samples N        samples in the evaluation window, at least 2 [${DEFAULT_SAMPLES}]
  --interval-ms N    time between two samples [${DEFAULT_INTERVAL_MS}]; one call takes (N-1) intervals
  --watch            keep sampling, redraw after every sample (sliding window) until Ctrl-C
  --json             print the report as JSON (with --watch: one document per line)

Per partition: CURRENT-OFFSET (the group's committed offset), LOG-END-OFFSET (last stable offset, so commit
markers are no lag), LAG (records), LAG-SECONDS (age of the oldest unread record), OWNER (client-id@host of the
member assigned the partition) and STATUS, from Burrow's rules over the window:
  OK      no lag, lag was 0 during the window, or lag decreasing
  WARN    the offset moves but lag never decreased (falling behind)
  STALL   lag and no progress, although a group member owns the partition
  STOP    lag and no progress, and no group member owns the partition
  REWIND  the committed offset went back
The group is OK, WARN, or ERR when any partition is STALL, STOP or REWIND.
Exit code: 0 when the group is OK or WARN, 1 when it is ERR (1 also on failure, with the reason on stderr).
With --watch, Ctrl-C ends with the exit code of the last report.`;

interface LagOptions {
  group: string | undefined;
  topic: string | undefined;
  samples: number;
  intervalMs: number;
  watch: boolean;
  json: boolean;
}

const SPEC: CommandSpec = {
  command: 'lag',
  usage: USAGE.slice(0, USAGE.indexOf('\n')),
  details: USAGE.slice(USAGE.indexOf('\n') + 1),
  options: {
    group: { type: 'string' },
    topic: { type: 'string' },
    samples: { type: 'string' },
    'interval-ms': { type: 'string' },
    watch: { type: 'boolean' },
    json: { type: 'boolean' },
  },
};

function integerOption(
  name: string,
  text: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (text === undefined) return fallback;
  return numberValue(SPEC, name, text, { min, max, integer: true });
}

/** undefined: --help was asked for. */
function parseLagArgs(args: string[]): LagOptions | undefined {
  const parsed = parseCommandArgs(SPEC, args);
  if (parsed === 'help') return undefined;
  const text = (name: string) => stringOption(parsed, name);
  return {
    group: text('group'),
    topic: text('topic'),
    samples: integerOption('--samples', text('samples'), DEFAULT_SAMPLES, 2, 1000),
    intervalMs: integerOption('--interval-ms', text('interval-ms'), DEFAULT_INTERVAL_MS, 100, 3_600_000),
    watch: booleanOption(parsed, 'watch'),
    json: booleanOption(parsed, 'json'),
  };
}

export function exitCodeFor(report: LagReport): number {
  return report.status === 'ERR' ? EXIT.failure : EXIT.ok;
}

class Sampler {
  constructor(
    private readonly lag: KafkaLagReader,
    private readonly groups: GroupReader,
    private readonly group: string,
    private readonly topic: string,
  ) {}

  async observe(): Promise<GroupObservation> {
    const partitions = await this.groups.partitions(this.topic);
    const [sample, assignment] = await Promise.all([
      this.lag.read(partitions),
      this.groups.assignment(this.group, this.topic),
    ]);
    const atMs = Date.now();
    return {
      atMs,
      clusterId: sample.clusterName,
      groupState: assignment.state,
      partitions: sample.partitions.map((p) => {
        const lag = lagOf(p);
        return {
          partition: p.partition,
          committedOffset: p.committedOffset,
          position: lag.position,
          logEndOffset: lag.lastStableOffset,
          lag: lag.lagRecords,
          lagSeconds: lagSecondsAt(lag, atMs) ?? null,
          owner: assignment.owners.get(p.partition) ?? null,
        };
      }),
    };
  }
}

function render(report: LagReport, options: LagOptions, isRefresh: boolean): void {
  if (options.json) {
    console.log(options.watch ? JSON.stringify(report) : JSON.stringify(report, null, 2));
    return;
  }
  if (isRefresh) {
    // On a terminal the report replaces the previous one; in a file or pipe they follow each other.
    if (process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H');
    else console.log('');
  }
  console.log(formatLagReport(report));
}

export async function lagCommand(args: string[]): Promise<number> {
  const options = parseLagArgs(args);
  if (!options) {
    console.log(USAGE);
    return EXIT.ok;
  }
  const config = loadConfig(process.env, { requireAppId: true });
  const group = options.group ?? config.appId;
  const topic = options.topic ?? config.topics.input;
  const logger = commandLogger(config, { quietInfo: true });
  const kafka = createKafka(config.kafka, `${config.appId}-lag`, logger, { quietRetries: true });
  assertKafkajsInternals(kafka);
  if ((await missingTopics(kafka, [topic])).length > 0)
    throw new CommandError(
      `topic ${topic} does not exist${options.topic === undefined ? ' (INPUT_TOPIC)' : ''}`,
    );

  const lagReader = new KafkaLagReader(kafka, group, topic);
  const groups = new GroupReader(kafka);
  const sampler = new Sampler(lagReader, groups, group, topic);
  const window = new LagWindow(group, topic, options.samples);
  const progress = Progress.forCommand({
    logLevel: config.logLevel,
    jsonOutput: options.json,
    term: process.env.TERM,
  });
  const stopping = new AbortController();
  const onSignal = () => {
    if (stopping.signal.aborted) exitProcess(EXIT.interrupted);
    stopping.abort();
  };
  if (options.watch) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  try {
    if (!options.watch) {
      const startedMs = Date.now();
      for (let i = 0; i < options.samples; i++) {
        const waitMs = startedMs + i * options.intervalMs - Date.now();
        if (waitMs > 0) await sleep(waitMs);
        window.add(await sampler.observe());
        progress.update(() => `lag: sample ${window.sampleCount} of ${options.samples}`);
      }
      progress.done();
      const report = window.report();
      render(report, options, false);
      return exitCodeFor(report);
    }
    return await watch(sampler, window, options, stopping.signal, progress);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await Promise.all([lagReader.close(), groups.close()]);
  }
}

/** One sample per interval into the sliding window; a report after each once the window is full. */
async function watch(
  sampler: Sampler,
  window: LagWindow,
  options: LagOptions,
  signal: AbortSignal,
  progress: Progress,
): Promise<number> {
  let lastCode: number = EXIT.interrupted;
  let reports = 0;
  while (!signal.aborted) {
    const startedMs = Date.now();
    try {
      window.add(await sampler.observe());
      if (window.isFull) {
        progress.done();
        const report = window.report();
        render(report, options, reports > 0);
        reports += 1;
        lastCode = exitCodeFor(report);
      } else {
        progress.update(() => `lag: sample ${window.sampleCount} of ${options.samples}`);
      }
    } catch (error) {
      // A watch outlives a broker hiccup: say so and sample again.
      console.error(`eos-rollup lag: ${errorMessage(error)}`);
    }
    const waitMs = options.intervalMs - (Date.now() - startedMs);
    if (waitMs > 0) await sleep(waitMs, undefined, { signal }).catch(() => undefined);
  }
  progress.done();
  return lastCode;
}
