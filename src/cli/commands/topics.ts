/**
 * `eos-rollup topics create [--partitions N]`: creates the topics the stage reads but never creates itself
 * (DESIGN §1): INPUT_TOPIC with cleanup.policy=delete and INVENTORY_TOPIC with cleanup.policy=compact, with
 * TOPIC_REPLICATION_FACTOR replicas. Existing topics are left as they are; an existing inventory topic that is
 * not compacted is an error, since enrichment would then lose hosts as segments expire.
 */
import { parseArgs } from 'node:util';
import { commandLogger } from '../command-logger.js';
import { loadConfig } from '../../config/config.js';
import { createKafka } from '../../kafka/client.js';
import { ensureSourceTopics, type SourceTopicState } from '../../kafka/source-topics.js';
import { CommandError, EXIT } from '../exit.js';

const USAGE = 'usage: eos-rollup topics create [--partitions <n>]';
const DEFAULT_PARTITIONS = 6;
const MAX_PARTITIONS = 10_000;

/** undefined: --help was asked for. */
function parsePartitions(args: string[]): number | undefined {
  let parsed: {
    values: { partitions?: string | undefined; help?: boolean | undefined };
    positionals: string[];
  };
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: true,
      options: { partitions: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (error) {
    throw new CommandError(`${error instanceof Error ? error.message : String(error)}; ${USAGE}`, EXIT.usage);
  }
  if (parsed.values.help === true) return undefined;
  const [action, ...rest] = parsed.positionals;
  if (action !== 'create' || rest.length > 0) throw new CommandError(USAGE, EXIT.usage);
  const text = parsed.values.partitions ?? String(DEFAULT_PARTITIONS);
  const partitions = Number(text);
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
    throw new CommandError(
      `--partitions ${JSON.stringify(text)} is not allowed: expected an integer from 1 to ${MAX_PARTITIONS}`,
      EXIT.usage,
    );
  }
  return partitions;
}

function describeState(state: SourceTopicState): string {
  const partitions = `${state.partitions} partition${state.partitions === 1 ? '' : 's'}`;
  const shape = `${partitions}, cleanup.policy=${state.cleanupPolicy}`;
  return state.created
    ? `created topic ${state.topic} (${shape})`
    : `topic ${state.topic} exists (${shape}); left as is`;
}

function isCompacted(cleanupPolicy: string): boolean {
  return cleanupPolicy
    .split(',')
    .map((p) => p.trim())
    .includes('compact');
}

export async function topicsCommand(args: string[]): Promise<number> {
  const partitions = parsePartitions(args);
  if (partitions === undefined) {
    console.log(
      `${USAGE}\n\nCreates INPUT_TOPIC (delete) and INVENTORY_TOPIC (compact) if missing [6 partitions].`,
    );
    return EXIT.ok;
  }
  const config = loadConfig(process.env);
  const logger = commandLogger(config);
  const kafka = createKafka(config.kafka, `${config.appId}-topics`, logger, { quietRetries: true });
  const { input, inventory } = config.topics;
  const states = await ensureSourceTopics(
    kafka,
    [
      { topic: input, cleanupPolicy: 'delete' },
      { topic: inventory, cleanupPolicy: 'compact' },
    ],
    { partitions, replicationFactor: config.topicSettings.replicationFactor },
  );
  for (const state of states) console.log(describeState(state));
  const inventoryState = states.find((s) => s.topic === inventory);
  if (inventoryState && !isCompacted(inventoryState.cleanupPolicy)) {
    throw new CommandError(
      `inventory topic ${inventory} (INVENTORY_TOPIC) has cleanup.policy=${inventoryState.cleanupPolicy}; ` +
        'it must be compacted: set cleanup.policy=compact on it, or use another INVENTORY_TOPIC',
    );
  }
  return EXIT.ok;
}
