/**
 * src/kafkajs-internals is the one door into kafkajs's private API. These tests pin what it checks at start: the
 * installed kafkajs passes, and each way an installation can differ (another version, an unpatched file, a
 * module gone or reshaped, a Kafka object without the cluster factory) stops with one line naming the internal.
 */
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Kafka } from 'kafkajs';
import { StageError } from '../../src/errors/errors.js';
import {
  KAFKAJS_VERSION,
  PATCHED_FILES,
  assertKafkajsInternals,
  createInternalCluster,
  filterAbortedMessages,
  installedKafkajs,
  saslAuthenticatorProvider,
  type KafkajsInstallation,
} from '../../src/kafkajs-internals/index.js';
import { repoRoot } from '../../scripts/stack/paths.js';

/** Never connected: building a Kafka object or a cluster opens no socket. */
const kafka = new Kafka({ clientId: 'internals-test', brokers: ['127.0.0.1:1'] });

/** The installed kafkajs with one thing changed. */
function installation(change: Partial<KafkajsInstallation>): KafkajsInstallation {
  return { ...installedKafkajs, ...change };
}

/** Asserts `check` throws one fatal line naming `internal` and the required kafkajs; returns the message. */
function assertRefused(check: () => void, internal: RegExp): string {
  let thrown: unknown;
  try {
    check();
  } catch (error) {
    thrown = error;
  }
  assert.ok(thrown instanceof StageError, `expected a StageError, got ${String(thrown)}`);
  assert.equal(thrown.kind, 'fatal');
  assert.match(thrown.message, internal);
  assert.match(
    thrown.message,
    /kafkajs 2\.2\.4 exactly, with the patches\/kafkajs\+2\.2\.4\+\*\.patch applied/,
  );
  assert.doesNotMatch(thrown.message, /\n/, 'one line');
  return thrown.message;
}

test('the installed, patched kafkajs 2.2.4 has every internal the project uses', () => {
  assert.doesNotThrow(() => {
    assertKafkajsInternals(kafka);
  });
});

test('a Kafka object without the private cluster factory is refused, naming the factory', () => {
  const fake = Object.create(Kafka.prototype) as Kafka;
  assertRefused(() => {
    assertKafkajsInternals(fake);
  }, /the Kafka object has no private:Kafka:createCluster/);
  assertRefused(
    () => createInternalCluster(fake, { isolation: 'read_committed' }),
    /private:Kafka:createCluster/,
  );
});

test('a cluster factory that is not a function is refused', () => {
  const fake = { [Symbol('private:Kafka:createCluster')]: 'not a function' } as unknown as Kafka;
  assertRefused(() => {
    assertKafkajsInternals(fake);
  }, /private:Kafka:createCluster is not a function/);
});

test('another kafkajs version is refused, naming the version found', () => {
  assertRefused(() => {
    assertKafkajsInternals(kafka, installation({ version: () => '2.2.5' }));
  }, /kafkajs 2\.2\.5 is installed/);
});

test('a kafkajs file without its patch is refused, naming the file', () => {
  const message = assertRefused(() => {
    assertKafkajsInternals(
      kafka,
      installation({
        source: (file) =>
          file === 'consumer/filterAbortedMessages.js'
            ? installedKafkajs.source(file).replaceAll('eos-rollup patch', '')
            : installedKafkajs.source(file),
      }),
    );
  }, /kafkajs\/src\/consumer\/filterAbortedMessages\.js is not patched/);
  assert.doesNotMatch(message, /cluster\/index\.js/);
});

test('a kafkajs/src module that does not load is refused, naming the module', () => {
  assertRefused(() => {
    assertKafkajsInternals(
      kafka,
      installation({
        load: (id) => {
          if (id === 'kafkajs/src/broker/saslAuthenticator/scram512') throw new Error('Cannot find module');
          return installedKafkajs.load(id);
        },
      }),
    );
  }, /module kafkajs\/src\/broker\/saslAuthenticator\/scram512 does not load/);
});

test('a kafkajs/src module of another shape is refused, naming what is missing', () => {
  const Cluster = installedKafkajs.load('kafkajs/src/cluster') as { prototype: object };
  // kafkajs's Cluster without one method the users call.
  const prototype: Record<string, unknown> = {};
  for (const name of Object.getOwnPropertyNames(Cluster.prototype)) {
    const descriptor = Object.getOwnPropertyDescriptor(Cluster.prototype, name);
    if (name !== 'findLeaderForPartitions' && descriptor) Object.defineProperty(prototype, name, descriptor);
  }
  const ReshapedCluster = function reshapedCluster() {
    // Never constructed: only its prototype is inspected.
  };
  ReshapedCluster.prototype = prototype;
  assertRefused(() => {
    assertKafkajsInternals(
      kafka,
      installation({
        load: (id) => (id === 'kafkajs/src/cluster' ? ReshapedCluster : installedKafkajs.load(id)),
      }),
    );
  }, /kafkajs\/src\/cluster\.prototype\.findLeaderForPartitions missing/);
  assertRefused(() => {
    assertKafkajsInternals(
      kafka,
      installation({
        load: (id) => (id === 'kafkajs/src/consumer/filterAbortedMessages' ? {} : installedKafkajs.load(id)),
      }),
    );
  }, /module kafkajs\/src\/consumer\/filterAbortedMessages does not export a function/);
});

test('the patched files checked at start are exactly the files the kafkajs patches change, each in one patch', () => {
  const dir = join(repoRoot(), 'patches');
  const patches = readdirSync(dir).filter((name) => name.startsWith(`kafkajs+${KAFKAJS_VERSION}+`));
  const files = patches.flatMap((name) =>
    [
      ...readFileSync(join(dir, name), 'utf8').matchAll(
        /^diff --git a\/node_modules\/kafkajs\/src\/(\S+) /gm,
      ),
    ].map((m) => m[1]),
  );
  assert.equal(
    new Set(files).size,
    files.length,
    'no file is patched by two patches: their order does not matter',
  );
  assert.deepEqual([...PATCHED_FILES].sort(), files.sort());
});

test('the accessors hand out the kafkajs functions the users call', () => {
  const cluster = createInternalCluster(kafka, { isolation: 'read_uncommitted', metadataMaxAgeMs: 60_000 });
  for (const method of ['connect', 'disconnect', 'findBroker', 'fetchTopicsOffset'] as const) {
    assert.equal(typeof cluster[method], 'function', method);
  }
  assert.equal(cluster.brokerPool.versions ?? null, null, 'no ApiVersions before connect');
  assert.equal(typeof filterAbortedMessages(), 'function');
  for (const mechanism of ['plain', 'scram-sha-256', 'scram-sha-512'] as const) {
    assert.equal(typeof saslAuthenticatorProvider(mechanism)({ username: 'u', password: 'p' }), 'function');
  }
});
