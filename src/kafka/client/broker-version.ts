/**
 * Brokers older than Kafka 4.0 are refused at start. On them the group coordinator applies a committed
 * transaction's offsets asynchronously, after the commit has returned; a new task owner that fetches offsets in
 * that gap reads the previous ones and processes a batch twice. Fencing the previous producer first does not
 * close the gap, and the OffsetFetch flag that makes such a broker wait for pending offsets (`require_stable`)
 * cannot be set through kafkajs. Kafka 4.0's group coordinator applies them before the commit returns.
 *
 * The version is read from the ApiVersions answer, the one thing every broker tells every client. Kafka 4.0
 * removed the oldest request versions: Fetch below v4 and OffsetCommit below v2 are no longer accepted, while
 * every 3.x broker still advertises both from v0. Produce is no marker: 4.0 kept advertising Produce v0-v2 so that
 * older clients could still negotiate.
 */
import type { ApiVersions, Kafka } from 'kafkajs';
import { FatalError, StageError } from '../../errors/errors.js';
import { createInternalCluster } from '../../kafkajs-internals/index.js';
import { translateKafkaError } from './translate-error.js';

const FETCH = 1;
const OFFSET_COMMIT = 8;
/** The lowest version each marker request keeps from Kafka 4.0 on. */
const KAFKA_4_MINIMUM: ReadonlyMap<number, { name: string; minVersion: number }> = new Map([
  [FETCH, { name: 'Fetch', minVersion: 4 }],
  [OFFSET_COMMIT, { name: 'OffsetCommit', minVersion: 2 }],
]);

export type BrokerVerdict =
  { supported: true; detected: string } | { supported: false; detected: string; evidence: string };

function describeRange(versions: ApiVersions, apiKey: number, name: string): string {
  const range = versions[apiKey];
  return range ? `${name} v${range.minVersion}-v${range.maxVersion}` : `no ${name}`;
}

/** Kafka 4.0 or later only when every marker shows the old versions gone; anything else is older or unknown. */
export function judgeBrokerVersions(versions: ApiVersions): BrokerVerdict {
  const evidence = [...KAFKA_4_MINIMUM].map(([apiKey, { name }]) => describeRange(versions, apiKey, name));
  const isKafka4 = [...KAFKA_4_MINIMUM].every(
    ([apiKey, { minVersion }]) => (versions[apiKey]?.minVersion ?? -1) >= minVersion,
  );
  if (isKafka4) return { supported: true, detected: 'Kafka 4.0 or later' };
  return { supported: false, detected: 'older than Kafka 4.0', evidence: evidence.join(', ') };
}

export function unsupportedBrokerError(verdict: Extract<BrokerVerdict, { supported: false }>): FatalError {
  return new FatalError(
    'BROKER_UNSUPPORTED',
    `the brokers in KAFKA_BROKERS are ${verdict.detected} (they advertise ${verdict.evidence}; Kafka 4.0 ` +
      'dropped Fetch below v4 and OffsetCommit below v2): Kafka 4.0 or later is required, because older group ' +
      'coordinators apply transactional offset commits asynchronously and a restarted task could read stale ' +
      'offsets and count records twice',
  );
}

/**
 * kafkajs negotiates versions with the seed broker and keeps the answer inside its cluster object, which no public
 * API returns; a cluster from kafkajs-internals, with the same brokers, TLS and SASL settings, is connected only to
 * read it.
 */
export async function readApiVersions(kafka: Kafka): Promise<ApiVersions> {
  const cluster = createInternalCluster(kafka, { isolation: 'read_committed' });
  try {
    await cluster.connect();
    const versions = cluster.brokerPool.versions;
    if (!versions) throw new FatalError('INVARIANT_VIOLATED', 'kafkajs connected without ApiVersions');
    return versions;
  } finally {
    await cluster.disconnect().catch(() => undefined);
  }
}

/** Refuses brokers older than 4.0 before anything else touches the cluster. */
export async function checkBrokerVersion(kafka: Kafka): Promise<void> {
  let versions: ApiVersions;
  try {
    versions = await readApiVersions(kafka);
  } catch (error) {
    throw error instanceof StageError ? error : translateKafkaError(error, 'checking the broker version');
  }
  const verdict = judgeBrokerVersions(versions);
  if (!verdict.supported) throw unsupportedBrokerError(verdict);
}
