/**
 * `eos-rollup topics create [--partitions N]`: creates the topics the stage reads but never creates itself
 * (design §1): INPUT_TOPIC with cleanup.policy=delete and INVENTORY_TOPIC with cleanup.policy=compact, with
 * TOPIC_REPLICATION_FACTOR replicas. Existing topics are left as they are; an existing inventory topic that is
 * not compacted is an error, since enrichment would then lose hosts as segments expire.
 */
import { commandLogger } from '../command-logger.js';
import { loadConfig } from '../../config/config.js';
import { createKafka } from '../../kafka/client/client.js';
import { ensureSourceTopics, type SourceTopicState } from '../../kafka/operator/source-topics.js';
import { closest } from '../../config/suggest.js';
import {
  helpText,
  numberValue,
  parseCommandArgs,
  stringOption,
  usageError,
  type CommandSpec,
} from '../arguments.js';
import { CommandError, EXIT } from '../exit.js';

const USAGE = 'usage: eos-rollup topics create [--partitions <n>]';
const DEFAULT_PARTITIONS = 6;
const MAX_PARTITIONS = 10_000;

const SPEC: CommandSpec = {
  command: 'topics',
  usage: USAGE,
  details: 'Creates INPUT_TOPIC (delete) and INVENTORY_TOPIC (compact) if missing [6 partitions].',
  options: { partitions: { type: 'string' } },
  positionals: ['create'],
};

/** undefined: --help was asked for. */
function parsePartitions(args: string[]): number | undefined {
  const parsed = parseCommandArgs(SPEC, args);
  if (parsed === 'help') return undefined;
  const [action] = parsed.positionals;
  if (action !== 'create') {
    const meant = action === undefined ? undefined : closest(action, ['create']);
    const hint = meant === undefined ? '' : ` (did you mean "${meant}"?)`;
    throw usageError(
      SPEC,
      action === undefined
        ? 'missing subcommand: create'
        : `unknown subcommand "${action}"${hint}; subcommands: create`,
    );
  }
  const text = stringOption(parsed, 'partitions') ?? String(DEFAULT_PARTITIONS);
  return numberValue(SPEC, '--partitions', text, { min: 1, max: MAX_PARTITIONS, integer: true });
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
    console.log(helpText(SPEC));
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
