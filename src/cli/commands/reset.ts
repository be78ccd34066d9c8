/**
 * `eos-rollup reset`: makes the next start of the stage re-process INPUT_TOPIC from the start (or from a time),
 * as kafka-streams-application-reset does for a Kafka Streams application: the group's committed offsets on the
 * input are set back, and the state topics (changelog, processing attempts) are deleted so the next start
 * recreates them empty instead of restoring windows that already counted the re-read records.
 *
 * Offsets of a group can only be set while it has no members (the coordinator rejects commits from outside a
 * live generation), which is also what keeps a running stage safe from this command: it refuses then.
 */
import { createInterface } from 'node:readline/promises';
import type { Admin } from 'kafkajs';
import { loadConfig, type Config } from '../../config/config.js';
import { processingAttemptsTopic } from '../../kafka/stage/attempt-journal.js';
import { createKafka } from '../../kafka/client/client.js';
import { translateKafkaError } from '../../kafka/client/translate-error.js';
import {
  formatResetPlan,
  refusalForMembers,
  type ResetPlan,
  type ResetTarget,
} from '../../ops/reset-plan.js';
import { SINCE_FORMS, parseSince } from '../../ops/time-spec.js';
import {
  booleanOption,
  helpText,
  parseCommandArgs,
  stringOption,
  usageError,
  type CommandSpec,
} from '../arguments.js';
import { commandLogger } from '../command-logger.js';
import { CommandError, EXIT } from '../exit.js';

const SPEC: CommandSpec = {
  command: 'reset',
  usage:
    'usage: eos-rollup reset [--dry-run] [--to-earliest | --to-datetime <time> | --to-offset-of <time>] [--yes]',
  details: `Resets the group APP_ID for a full re-processing, like kafka-streams-application-reset:
  - sets its committed offsets on INPUT_TOPIC to the earliest offsets (default), or to those of a time
    (the first record at or after it, by the broker's ListOffsets by timestamp; the end when there is none);
  - deletes <APP_ID>-rollup-state-changelog and <APP_ID>-processing-attempts; the stage recreates them empty
    at its next start.
OUTPUT_TOPIC and DLQ_TOPIC are never touched: after a reset and a run the output holds the re-computed rollups
as well as the earlier ones, and the DLQ the re-found dead letters as well.
Refuses while the group has active members (every instance of the stage must be stopped); asks for
confirmation on a terminal, and needs --yes otherwise.
  --dry-run               print what would be done, change nothing
  --to-earliest           the earliest offsets (the default)
  --to-datetime <time>    the offsets of <time>: ${SINCE_FORMS}
  --to-offset-of <time>   the same as --to-datetime
  --yes                   do not ask for confirmation (required when stdin is not a terminal)`,
  options: {
    'dry-run': { type: 'boolean' },
    'to-earliest': { type: 'boolean' },
    'to-datetime': { type: 'string' },
    'to-offset-of': { type: 'string' },
    yes: { type: 'boolean' },
  },
};

interface ResetOptions {
  dryRun: boolean;
  yes: boolean;
  target: ResetTarget;
}

/** undefined: --help was asked for. */
function parseResetArgs(args: string[], nowMs: number): ResetOptions | undefined {
  const parsed = parseCommandArgs(SPEC, args);
  if (parsed === 'help') return undefined;
  const targets = (['to-earliest', 'to-datetime', 'to-offset-of'] as const).filter(
    (name) => parsed.values[name] !== undefined,
  );
  if (targets.length > 1) {
    throw usageError(SPEC, `--${targets.join(' and --')} exclude each other: give one of them`);
  }
  const timeFlag = targets[0] === 'to-earliest' ? undefined : targets[0];
  const timeText = timeFlag === undefined ? undefined : stringOption(parsed, timeFlag);
  let target: ResetTarget = { kind: 'earliest' };
  if (timeFlag !== undefined && timeText !== undefined) {
    try {
      target = { kind: 'time', atMs: parseSince(timeText, nowMs) };
    } catch {
      throw usageError(
        SPEC,
        `--${timeFlag} ${JSON.stringify(timeText)} is not allowed: expected ${SINCE_FORMS}`,
      );
    }
  }
  return { dryRun: booleanOption(parsed, 'dry-run'), yes: booleanOption(parsed, 'yes'), target };
}

export async function resetCommand(args: string[]): Promise<number> {
  const options = parseResetArgs(args, Date.now());
  if (!options) {
    console.log(helpText(SPEC));
    return EXIT.ok;
  }
  const isTerminal = process.stdin.isTTY;
  if (!options.dryRun && !options.yes && !isTerminal) {
    throw usageError(SPEC, 'stdin is not a terminal, so nothing can be confirmed: add --yes (or --dry-run)');
  }
  const config = loadConfig(process.env, { requireAppId: true });
  const logger = commandLogger(config, { quietInfo: true });
  const kafka = createKafka(config.kafka, `${config.appId}-reset`, logger, { quietRetries: true });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const plan = await planReset(admin, config, options.target);
    if (options.dryRun) {
      for (const line of formatResetPlan(plan, false)) console.log(line);
      console.log('reset: dry run, nothing changed');
      return EXIT.ok;
    }
    if (!options.yes) {
      for (const line of formatResetPlan(plan, false)) console.log(line);
      if (!(await confirmed(config.appId))) {
        console.log('reset: not confirmed, nothing changed');
        return EXIT.failure;
      }
    }
    await executeReset(admin, config, plan);
    for (const line of formatResetPlan(plan, true)) console.log(line);
    return EXIT.ok;
  } catch (error) {
    throw error instanceof CommandError ? error : translateKafkaError(error, `resetting ${config.appId}`);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

async function refuseIfActive(admin: Admin, group: string): Promise<void> {
  const { groups } = await admin.describeGroups([group]);
  const members = (groups[0]?.members ?? []).map((m) => ({
    memberId: m.memberId,
    clientId: m.clientId,
    clientHost: m.clientHost,
  }));
  const refusal = refusalForMembers(group, members);
  if (refusal !== undefined) throw new CommandError(refusal);
}

async function planReset(admin: Admin, config: Config, target: ResetTarget): Promise<ResetPlan> {
  const group = config.appId;
  const input = config.topics.input;
  const existing = new Set(await admin.listTopics());
  if (!existing.has(input)) throw new CommandError(`input topic ${input} (INPUT_TOPIC) does not exist`);
  await refuseIfActive(admin, group);
  const targets =
    target.kind === 'earliest'
      ? (await admin.fetchTopicOffsets(input)).map((p) => ({ partition: p.partition, offset: p.low }))
      : await admin.fetchTopicOffsetsByTimestamp(input, target.atMs);
  const committed = await admin.fetchOffsets({ groupId: group, topics: [input] });
  const committedOf = new Map(
    (committed[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset) < 0 ? null : p.offset]),
  );
  return {
    group,
    inputTopic: input,
    target,
    partitions: targets
      .map((p) => ({
        partition: p.partition,
        committed: committedOf.get(p.partition) ?? null,
        target: p.offset,
      }))
      .sort((a, b) => a.partition - b.partition),
    deleteTopics: [config.topics.changelog, processingAttemptsTopic(group)].filter((t) => existing.has(t)),
  };
}

async function executeReset(admin: Admin, config: Config, plan: ResetPlan): Promise<void> {
  // Asked again right before acting: an instance may have started while the operator read the plan.
  await refuseIfActive(admin, plan.group);
  await admin.setOffsets({
    groupId: plan.group,
    topic: plan.inputTopic,
    partitions: plan.partitions.map((p) => ({ partition: p.partition, offset: p.target })),
  });
  if (plan.deleteTopics.length > 0) {
    await admin.deleteTopics({ topics: plan.deleteTopics, timeout: config.kafka.requestTimeoutMs });
  }
}

async function confirmed(group: string): Promise<boolean> {
  const prompt = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await prompt.question(`type the group name (${group}) to reset it: `);
    return answer.trim() === group;
  } finally {
    prompt.close();
  }
}
