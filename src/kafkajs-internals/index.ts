/**
 * The one module that reaches into kafkajs past its public API; nothing else under src/ may (an ESLint rule keeps
 * it so). kafkajs 2.2.4 has no public way to
 * - fetch a partition at a given offset, or list offsets with a chosen isolation level, without joining a group
 *   (the lag reader, the attempts journal, `quarantine`, the auditor, partition start and end offsets);
 * - read the ApiVersions a broker answered (the start-up broker version check);
 * - reuse its abort filter outside a consumer, or its SASL authenticators inside a custom mechanism.
 * So this module reaches its private cluster factory (a symbol-keyed property of the Kafka object) and three of
 * its source modules, and gives every user the same typed view of them. Those internals are only stable because
 * kafkajs is pinned to exactly 2.2.4 with the patches in patches/ applied: `assertKafkajsInternals` checks
 * that at start, so a different or unpatched kafkajs stops the process with one line naming what is missing
 * instead of failing later, mid-transaction or mid-audit, on an undefined method.
 *
 * Transport access only: no decoding, no validation, no judgement. That is why the independent auditor may use
 * it as well as the stage.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ApiVersions, AuthenticationProviderArgs, Authenticator, Kafka } from 'kafkajs';
import { FatalError } from '../errors/errors.js';

export const KAFKAJS_VERSION = '2.2.4';
const FACTORY_SYMBOL = 'private:Kafka:createCluster';

export type Isolation = 'read_committed' | 'read_uncommitted';
/** The Fetch and ListOffsets requests' `isolation_level` field. */
export const ISOLATION_LEVEL: Readonly<Record<Isolation, number>> = {
  read_uncommitted: 0,
  read_committed: 1,
};

/** As the Fetch response lists it: a producer's aborted transaction and the offset of its first record. */
export interface AbortedTransaction {
  producerId: string;
  firstOffset: string;
}

/** The per-batch context kafkajs attaches to each decoded record; one object is shared by a batch's records. */
export interface FetchedBatchContext {
  firstOffset: string;
  lastOffsetDelta: number;
  producerId: string;
  inTransaction: boolean;
}

/** A record as kafkajs decodes it from a Fetch response (record batch v2, the only format Kafka 4 serves). */
export interface FetchedRecord {
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | Buffer[] | undefined>;
  /** True for transaction markers (COMMIT/ABORT control records). */
  isControlRecord: boolean;
  batchContext: FetchedBatchContext;
}

/**
 * A consumed record's offset and timestamp as numbers. The patched record decoder keeps both as numbers
 * (`offsetNumber`, `timestampNumber`: NaN when not a safe integer) and prints kafkajs's decimal strings only when
 * they are read; these take the numbers when they are there, and parse the strings otherwise.
 */
interface NumberedRecord {
  offset: string;
  timestamp: string;
  offsetNumber?: number;
  timestampNumber?: number;
}

export function recordOffset(record: NumberedRecord): bigint {
  const offset = record.offsetNumber;
  if (offset !== undefined && Number.isSafeInteger(offset)) return BigInt(offset);
  const parsed = Number(record.offset);
  return Number.isSafeInteger(parsed) ? BigInt(parsed) : BigInt(record.offset);
}

export function recordTimestampMs(record: NumberedRecord): number {
  const timestamp = record.timestampNumber;
  return timestamp !== undefined && Number.isSafeInteger(timestamp) ? timestamp : Number(record.timestamp);
}

export interface FetchedPartition {
  partition: number;
  errorCode: number;
  highWatermark: string;
  /** Listed only for read_committed fetches. */
  abortedTransactions: AbortedTransaction[];
  messages: FetchedRecords;
}

/**
 * A partition's decoded records. `batchesEndOffset` (patches/kafkajs+2.2.4+002+compaction-emptied-batches.patch):
 * the offset after the last complete record batch decoded, even one that held no record.
 */
export type FetchedRecords = FetchedRecord[] & { readonly batchesEndOffset?: string };

export interface FetchRequest {
  /** -1, as every client sends; kafkajs's default too. */
  replicaId?: number;
  isolationLevel: number;
  maxWaitTime: number;
  minBytes: number;
  maxBytes: number;
  topics: { topic: string; partitions: { partition: number; fetchOffset: string; maxBytes: number }[] }[];
}

export interface ListOffsetsRequest {
  replicaId: number;
  isolationLevel: number;
  /** `timestamp` -1 asks for the end (high watermark or last stable offset), -2 for the log start. */
  topics: { topic: string; partitions: { partition: number; timestamp: number }[] }[];
}

/** A connection to one broker, as kafkajs's Broker class offers it. */
export interface InternalBroker {
  fetch(
    request: FetchRequest,
  ): Promise<{ responses: { topicName: string; partitions: FetchedPartition[] }[] }>;
  listOffsets(
    request: ListOffsetsRequest,
  ): Promise<{ responses: { topic: string; partitions: { partition: number; offset: string }[] }[] }>;
}

/** The members of kafkajs's Cluster class the project uses: metadata, leaders, offsets and broker connections. */
export interface InternalCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  refreshMetadata(): Promise<void>;
  refreshMetadataIfNecessary(): Promise<void>;
  findTopicPartitionMetadata(topic: string): { partitionId: number; leader: number }[];
  /** Leader node id (as an object key, so a string) → the given partitions it leads. */
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
  findBroker(query: { nodeId: number | string }): Promise<InternalBroker>;
  /** Per partition, the log start (`fromBeginning`) or the end the cluster's isolation level sees. */
  fetchTopicsOffset(
    topics: { topic: string; partitions: { partition: number }[]; fromBeginning: boolean }[],
  ): Promise<{ topic: string; partitions: { partition: number; offset: string }[] }[]>;
  /** Set by `connect()`: the ApiVersions the seed broker answered. */
  readonly brokerPool: { readonly versions: ApiVersions | null };
}

/** The method names of InternalCluster and InternalBroker, checked on kafkajs's classes at start. */
const CLUSTER_METHODS = [
  'connect',
  'disconnect',
  'addTargetTopic',
  'refreshMetadata',
  'refreshMetadataIfNecessary',
  'findTopicPartitionMetadata',
  'findLeaderForPartitions',
  'findBroker',
  'fetchTopicsOffset',
] as const satisfies readonly (keyof InternalCluster)[];
const BROKER_METHODS = ['fetch', 'listOffsets'] as const satisfies readonly (keyof InternalBroker)[];

/** What kafkajs's (patched) abort filter reads of a record; tests build such records by hand. */
export interface AbortFilterMessage {
  offset: string;
  key?: Buffer | null;
  isControlRecord: boolean;
  batchContext?: Partial<FetchedBatchContext>;
}

/**
 * kafkajs's consumer/filterAbortedMessages.js, which the patch makes follow the Java consumer: drops the records
 * of aborted transactions; transaction markers stay in, for the caller to drop.
 */
export type FilterAbortedMessages = <M extends AbortFilterMessage>(input: {
  messages: M[];
  abortedTransactions: readonly AbortedTransaction[];
}) => M[];

export type SaslMechanismName = 'plain' | 'scram-sha-256' | 'scram-sha-512';

/** kafkajs's built-in authenticator for a mechanism, as its SASL code calls it: credentials, then connection. */
export type AuthenticatorProvider = (sasl: {
  username: string;
  password: string;
}) => (args: AuthenticationProviderArgs) => Authenticator;

/** Every `kafkajs/src` module used, with the export shape it must have. */
const MODULES = {
  cluster: 'kafkajs/src/cluster',
  broker: 'kafkajs/src/broker',
  filterAbortedMessages: 'kafkajs/src/consumer/filterAbortedMessages',
  crc32C: 'kafkajs/src/protocol/recordBatch/crc32C',
  plain: 'kafkajs/src/broker/saslAuthenticator/plain',
  'scram-sha-256': 'kafkajs/src/broker/saslAuthenticator/scram256',
  'scram-sha-512': 'kafkajs/src/broker/saslAuthenticator/scram512',
} as const;
const SASL_MODULE: Record<SaslMechanismName, string> = {
  plain: MODULES.plain,
  'scram-sha-256': MODULES['scram-sha-256'],
  'scram-sha-512': MODULES['scram-sha-512'],
};

/**
 * The files the kafkajs patches (patches/kafkajs+2.2.4+NNN+<change>.patch) change; each hunk carries the marker.
 * A unit test keeps this list equal to the patches'.
 */
export const PATCHED_FILES: readonly string[] = [
  'broker/index.js',
  'cluster/brokerPool.js',
  'cluster/connectionPoolBuilder.js',
  'cluster/index.js',
  'consumer/batch.js',
  'consumer/consumerGroup.js',
  'consumer/filterAbortedMessages.js',
  'consumer/index.js',
  'consumer/runner.js',
  'index.js',
  'network/requestQueue/index.js',
  'producer/eosManager/index.js',
  'producer/groupMessagesPerPartition.js',
  'producer/index.js',
  'producer/sendMessages.js',
  'protocol/encoder.js',
  'protocol/recordBatch/crc32C/index.js',
  'protocol/recordBatch/record/v0/decoder.js',
  'protocol/recordBatch/record/v0/index.js',
  'protocol/recordBatch/v0/index.js',
  'protocol/requests/fetch/v4/decodeMessages.js',
  'protocol/requests/produce/v3/request.js',
];
const PATCH_MARKER = 'eos-rollup patch';

/** How the installed kafkajs is looked at; the unit tests pass one with a piece missing. */
export interface KafkajsInstallation {
  /** The `version` of kafkajs/package.json. */
  version(): string;
  /** A module by id, as `require` loads it. */
  load(id: string): unknown;
  /** The source text of a file under kafkajs/src. */
  source(file: string): string;
}

const requireFromHere = createRequire(__filename);

export const installedKafkajs: KafkajsInstallation = {
  version: () =>
    (JSON.parse(readFileSync(requireFromHere.resolve('kafkajs/package.json'), 'utf8')) as { version: string })
      .version,
  load: (id) => requireFromHere(id) as unknown,
  source: (file) => readFileSync(requireFromHere.resolve(`kafkajs/src/${file}`), 'utf8'),
};

function kafkajsInternalsError(missing: string, cause?: unknown): FatalError {
  return new FatalError(
    'INVARIANT_VIOLATED',
    `kafkajs internals: ${missing}; eos-rollup needs kafkajs ${KAFKAJS_VERSION} exactly, with ` +
      `the patches/kafkajs+${KAFKAJS_VERSION}+*.patch applied (npm install runs patch-package)`,
    cause === undefined ? undefined : { cause },
  );
}

function loadModule(id: string, installation: KafkajsInstallation): unknown {
  try {
    return installation.load(id);
  } catch (error) {
    throw kafkajsInternalsError(`module ${id} does not load`, error);
  }
}

function loadFunction(id: string, installation: KafkajsInstallation): unknown {
  const loaded = loadModule(id, installation);
  if (typeof loaded !== 'function') throw kafkajsInternalsError(`module ${id} does not export a function`);
  return loaded;
}

/** Each missing prototype method of a class module, named as `<module>.prototype.<method>`. */
function checkMethods(id: string, methods: readonly string[], installation: KafkajsInstallation): void {
  const loaded = loadModule(id, installation);
  const prototype =
    typeof loaded === 'function' ? (loaded as { prototype?: Record<string, unknown> }).prototype : undefined;
  const missing = methods.filter((m) => typeof prototype?.[m] !== 'function');
  if (missing.length > 0) {
    throw kafkajsInternalsError(`${missing.map((m) => `${id}.prototype.${m}`).join(', ')} missing`);
  }
}

type ClusterFactory = (options: {
  isolationLevel: number;
  allowAutoTopicCreation: boolean;
  metadataMaxAge?: number;
}) => InternalCluster;

function clusterFactory(kafka: Kafka): ClusterFactory {
  const symbol = Object.getOwnPropertySymbols(kafka).find((s) => s.description === FACTORY_SYMBOL);
  if (symbol === undefined) throw kafkajsInternalsError(`the Kafka object has no ${FACTORY_SYMBOL}`);
  const factory = (kafka as unknown as Record<symbol, unknown>)[symbol];
  if (typeof factory !== 'function') throw kafkajsInternalsError(`${FACTORY_SYMBOL} is not a function`);
  return factory as ClusterFactory;
}

/**
 * Checks every internal the project relies on, once, at start: the version and the patch, each `kafkajs/src`
 * module and the shape the code expects of it, and the Kafka object's cluster factory. Throws the first problem
 * found as one line.
 */
export function assertKafkajsInternals(
  kafka: Kafka,
  installation: KafkajsInstallation = installedKafkajs,
): void {
  let version: string;
  try {
    version = installation.version();
  } catch (error) {
    throw kafkajsInternalsError('kafkajs/package.json is not readable', error);
  }
  if (version !== KAFKAJS_VERSION) throw kafkajsInternalsError(`kafkajs ${version} is installed`);
  for (const file of PATCHED_FILES) {
    let source: string;
    try {
      source = installation.source(file);
    } catch (error) {
      throw kafkajsInternalsError(`kafkajs/src/${file} is not readable`, error);
    }
    if (!source.includes(PATCH_MARKER)) throw kafkajsInternalsError(`kafkajs/src/${file} is not patched`);
  }
  checkMethods(MODULES.cluster, CLUSTER_METHODS, installation);
  checkMethods(MODULES.broker, BROKER_METHODS, installation);
  loadFunction(MODULES.filterAbortedMessages, installation);
  loadFunction(MODULES.crc32C, installation);
  for (const id of Object.values(SASL_MODULE)) loadFunction(id, installation);
  clusterFactory(kafka);
}

/**
 * A kafkajs Cluster on the caller's Kafka object (same brokers, TLS, SASL, retry and logger), with the given
 * isolation level for its Fetch and ListOffsets requests. Never creates topics. Each caller connects and
 * disconnects it.
 */
export function createInternalCluster(
  kafka: Kafka,
  options: { isolation: Isolation; metadataMaxAgeMs?: number },
): InternalCluster {
  return clusterFactory(kafka)({
    isolationLevel: ISOLATION_LEVEL[options.isolation],
    allowAutoTopicCreation: false,
    ...(options.metadataMaxAgeMs === undefined ? {} : { metadataMaxAge: options.metadataMaxAgeMs }),
  });
}

let abortFilter: FilterAbortedMessages | undefined;

/** kafkajs has no `exports` map and does not export the filter, so it is loaded from its sources. */
export function filterAbortedMessages(): FilterAbortedMessages {
  abortFilter ??= loadFunction(MODULES.filterAbortedMessages, installedKafkajs) as FilterAbortedMessages;
  return abortFilter;
}

/** kafkajs 2.2.4 does not export its built-in authenticators either. */
export function saslAuthenticatorProvider(mechanism: SaslMechanismName): AuthenticatorProvider {
  return loadFunction(SASL_MODULE[mechanism], installedKafkajs) as AuthenticatorProvider;
}

export type Crc32cImplementation = 'native' | 'javascript';

/**
 * Which CRC32C the (patched) record batch encoder uses: @node-rs/crc32's native one, or kafkajs's JavaScript
 * loop when that module did not load on this platform. Both give the same checksums; only the CPU differs.
 */
export function crc32cImplementation(
  installation: KafkajsInstallation = installedKafkajs,
): Crc32cImplementation {
  const crc32C = loadFunction(MODULES.crc32C, installation) as { native?: unknown };
  return crc32C.native === true ? 'native' : 'javascript';
}
