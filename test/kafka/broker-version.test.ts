/**
 * The broker version decision, on ApiVersions answers recorded through kafkajs from real brokers: Apache Kafka
 * 3.9.1 (the last 3.x) is refused with a message naming KAFKA_BROKERS, the range and the reason; 4.1.1 passes.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ApiVersions } from 'kafkajs';
import { repoRoot } from '../../scripts/stack/paths.js';
import { judgeBrokerVersions, unsupportedBrokerError } from '../../src/kafka/client/broker-version.js';

/** The refusal's evidence, or a failed assertion when the versions are accepted. */
function refused(versions: ApiVersions) {
  const verdict = judgeBrokerVersions(versions);
  if (verdict.supported) throw new assert.AssertionError({ message: `accepted: ${JSON.stringify(verdict)}` });
  return verdict;
}

function recorded(version: string): ApiVersions {
  return JSON.parse(
    readFileSync(join(repoRoot(), 'test', 'kafka', `broker-version-${version}.json`), 'utf8'),
  ) as ApiVersions;
}

test('Kafka 4.1.1 is accepted', () => {
  assert.deepEqual(judgeBrokerVersions(recorded('4.1.1')), {
    supported: true,
    detected: 'Kafka 4.0 or later',
  });
});

test('Kafka 3.9.1 is refused: Fetch and OffsetCommit still from v0', () => {
  const verdict = refused(recorded('3.9.1'));
  assert.deepEqual(verdict, {
    supported: false,
    detected: 'older than Kafka 4.0',
    evidence: 'Fetch v0-v17, OffsetCommit v0-v9',
  });
  const error = unsupportedBrokerError(verdict);
  assert.equal(error.code, 'BROKER_UNSUPPORTED');
  assert.equal(error.kind, 'fatal');
  assert.match(error.message, /KAFKA_BROKERS are older than Kafka 4\.0 \(they advertise Fetch v0-v17/);
  assert.match(error.message, /Kafka 4\.0 or later is required/);
  assert.match(error.message, /apply transactional offset commits asynchronously/);
});

test('Produce is no marker: Kafka 4.x still advertises Produce from v0', () => {
  assert.equal(recorded('4.1.1')[0]?.minVersion, 0);
});

test('one marker alone is not enough (a broker that is not Apache Kafka 4.x)', () => {
  const mixed = { ...recorded('4.1.1'), 8: { minVersion: 0, maxVersion: 9 } };
  assert.match(refused(mixed).evidence, /OffsetCommit v0-v9/);
  const noFetch: ApiVersions = { ...recorded('4.1.1') };
  delete noFetch[1];
  assert.match(refused(noFetch).evidence, /no Fetch/);
});
