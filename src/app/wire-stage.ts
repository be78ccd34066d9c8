/**
 * The composition root of `eos-rollup run`: builds, from the configuration, the kafka/ and serde/ adapters behind
 * the engine's ports, and hands them to a Stage with the system clock. Nothing is built before the stage asks for
 * it, so the start-up steps keep the stage's order: the Kafka client at the first broker check, the registry with
 * the codecs, the consumer last.
 */
import { writeSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import type { MetricRollup } from '../domain/metric.js';
import { FaultInjector, parseFaultSpecs } from '../engine/faults.js';
import { Stage } from '../engine/stage.js';
import type { StageAdapters } from '../engine/stage-ports.js';
import { KafkajsAttemptJournal } from '../kafka/stage/attempt-journal.js';
import { checkBrokerVersion } from '../kafka/client/broker-version.js';
import { createKafka } from '../kafka/client/client.js';
import { assertKafkajsInternals, crc32cImplementation } from '../kafkajs-internals/index.js';
import { decorateForNegativeControl } from '../negative-controls/decorators.js';
import { InputConsumer } from '../kafka/stage/input-consumer.js';
import { InventoryFollower } from '../kafka/stage/inventory-follower.js';
import { KafkajsTaskPort, keyPartitioner } from '../kafka/stage/task-kafka.js';
import { checkTransactionTimeout, prepareTopics } from '../kafka/stage/topics.js';
import { translateKafkaError } from '../kafka/client/translate-error.js';
import { AvroEncoder } from '../serde/avro-encoder.js';
import { MetricDecoder } from '../serde/metric-decoder.js';
import { RegistryClient } from '../serde/registry-client.js';
import { systemClock } from './system-clock.js';

export interface StageWiring {
  config: Config;
  logger: Logger;
  version: string;
}

export function wireStage({ config, logger, version }: StageWiring): Stage {
  const instanceId = config.instanceId ?? `${hostname()}-${process.pid}`;
  return new Stage({
    config,
    logger,
    version,
    instanceId,
    adapters: stageAdapters(config, instanceId, logger),
    clock: systemClock,
  });
}

function stageAdapters(config: Config, instanceId: string, logger: Logger): StageAdapters {
  let kafka: Kafka | undefined;
  const client = (): Kafka => {
    if (kafka) return kafka;
    kafka = createKafka(config.kafka, `${config.appId}-${instanceId}`, logger);
    // Before any broker is contacted: the adapters rely on kafkajs internals of one patched version.
    assertKafkajsInternals(kafka);
    logger.info({ crc32c: crc32cImplementation() }, 'record batch checksums');
    return kafka;
  };
  let registry: RegistryClient | undefined;
  const registryClient = (): RegistryClient => (registry ??= new RegistryClient(config.registry));

  let taskPort: KafkajsTaskPort | undefined;
  return {
    decorateTaskPorts: (ports, commitOffsetOutsideTransaction) =>
      // Test only when EOS_ROLLUP_BROKEN is set; otherwise every port passes through unchanged.
      decorateForNegativeControl(config.brokenVariant, ports, {
        groupId: config.appId,
        inputTopic: config.topics.input,
        instanceId,
        readPartition: (isolation, ...args) => {
          if (!taskPort) throw new Error('the task port is not built yet');
          return taskPort.readPartition(isolation, ...args);
        },
        commitOffsetOutsideTransaction,
      }),
    prepareTopics: async () => {
      await checkBrokerVersion(client());
      await checkTransactionTimeout(client(), config.transactionTimeoutMs);
      return prepareTopics(client(), config);
    },
    codecs: async () => {
      const encoder = await AvroEncoder.register<MetricRollup>(
        registryClient(),
        config.topics.output,
        'metricRollup',
        config.registry.autoRegister,
      );
      return {
        decoder: new MetricDecoder(registryClient()),
        encodeRollup: (rollup) => encoder.encode(rollup),
      };
    },
    journal: (attemptsTopic) =>
      new KafkajsAttemptJournal(
        client(),
        attemptsTopic,
        config.topics.input,
        `${config.appId}/${instanceId}`,
      ),
    inventory: () =>
      new InventoryFollower(client(), config.topics.inventory, registryClient(), config.appId, logger, {
        sessionTimeoutMs: config.sessionTimeoutMs,
        heartbeatIntervalMs: config.heartbeatIntervalMs,
      }),
    taskKafka: (atLeastOnce) =>
      (taskPort = new KafkajsTaskPort(
        client(),
        { transactionTimeoutMs: config.transactionTimeoutMs, initialRetryMs: 10 },
        `${config.appId}-restore`,
        atLeastOnce ? { commitOffset: atLeastOnce } : undefined,
      )),
    outputPartitioner: keyPartitioner,
    consumer: (concurrency, listeners) =>
      new InputConsumer(
        client(),
        {
          groupId: config.appId,
          topic: config.topics.input,
          sessionTimeoutMs: config.sessionTimeoutMs,
          heartbeatIntervalMs: config.heartbeatIntervalMs,
          rebalanceTimeoutMs: config.rebalanceTimeoutMs,
          groupInstanceId: config.groupInstanceId,
          maxWaitTimeMs: config.commit.intervalMs,
          concurrency,
        },
        listeners,
      ),
    faults: new FaultInjector(parseFaultSpecs(config.faultSpec), (spec, partition) => {
      // Written synchronously: a `kill` fault follows at once, and pino's buffered line would die with it.
      // An `o<offset>` trigger carries a bigint, which JSON.stringify refuses: written as its decimal string.
      const fault = { ...spec, offset: spec.offset?.toString() };
      writeSync(
        2,
        `${JSON.stringify({ level: 'warn', time: Date.now(), fault, partition, msg: 'injecting fault' })}\n`,
      );
    }),
    translateError: translateKafkaError,
  };
}
