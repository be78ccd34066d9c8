/**
 * The composition root of a job (`eos-rollup run` is the rollup job): builds, from the configuration, the kafka/
 * and serde/ adapters behind the engine's ports, the job's processor, and hands them to a Stage with the system
 * clock. Nothing is built before the stage asks for
 * it, so the start-up steps keep the stage's order: the Kafka client at the first broker check, the registry with
 * the codecs, the consumer last.
 */
import { writeSync } from 'node:fs';
import type { Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { instanceIdOf, type Config } from '../config/config.js';
import { FaultInjector, parseFaultSpecs } from '../engine/faults.js';
import type { TaskProcessorFactory } from '../engine/processor.js';
import { Stage } from '../engine/stage.js';
import type { StageAdapters } from '../engine/stage-ports.js';
import { KafkajsAttemptJournal } from '../kafka/stage/attempt-journal.js';
import { checkBrokerVersion } from '../kafka/client/broker-version.js';
import { createKafka } from '../kafka/client/client.js';
import { assertKafkajsInternals, crc32cImplementation } from '../kafkajs-internals/index.js';
import { decorateForNegativeControl } from '../negative-controls/decorators.js';
import { InputConsumer } from '../kafka/stage/input-consumer.js';
import { InventoryFollower } from '../kafka/stage/inventory-follower.js';
import { keyPartitioner } from '../kafka/client/key-partition.js';
import { KafkajsTaskPort } from '../kafka/stage/task-kafka.js';
import { checkTransactionTimeout, prepareTopics } from '../kafka/stage/topics.js';
import { translateKafkaError } from '../kafka/client/translate-error.js';
import { RegistryClient } from '../serde/registry-client.js';
import { systemClock } from './system-clock.js';

/** What a job's processor may be built from: the registry, and the inventory table when the job reads it. */
export interface JobServices {
  config: Config;
  logger: Logger;
  registry: () => RegistryClient;
  /** The inventory follower (the stage starts it and waits for it); only for a job that reads the inventory. */
  inventory: () => InventoryFollower;
}

/** A job as the composition root sees it: its processor, and whether it reads the inventory table. */
export interface StageJob {
  processor(services: JobServices): Promise<TaskProcessorFactory>;
  readsInventory: boolean;
}

export interface StageWiring {
  config: Config;
  logger: Logger;
  version: string;
  job: StageJob;
}

export function wireStage({ config, logger, version, job }: StageWiring): Stage {
  const instanceId = instanceIdOf(config);
  return new Stage({
    config,
    logger,
    version,
    instanceId,
    adapters: stageAdapters(config, instanceId, logger, job),
    clock: systemClock,
  });
}

function stageAdapters(config: Config, instanceId: string, logger: Logger, job: StageJob): StageAdapters {
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

  // One follower: the stage starts and stops it, the rollup processor reads it.
  let follower: InventoryFollower | undefined;
  const inventory = (): InventoryFollower =>
    (follower ??= new InventoryFollower(
      client(),
      config.topics.inventory,
      registryClient(),
      config.appId,
      logger,
      { sessionTimeoutMs: config.sessionTimeoutMs, heartbeatIntervalMs: config.heartbeatIntervalMs },
    ));

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
      return prepareTopics(client(), config, { readsInventory: job.readsInventory });
    },
    processor: () => job.processor({ config, logger, registry: registryClient, inventory }),
    journal: (attemptsTopic) =>
      new KafkajsAttemptJournal(
        client(),
        attemptsTopic,
        config.topics.input,
        `${config.appId}/${instanceId}`,
      ),
    inventory: job.readsInventory ? inventory : undefined,
    taskKafka: (atLeastOnce) =>
      (taskPort = new KafkajsTaskPort(
        client(),
        { transactionTimeoutMs: config.transactionTimeoutMs, initialRetryMs: 10 },
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
          // kafkajs heartbeats between fetches only: a fetch of an idle partition that waited longer than the
          // session would get the member expelled.
          maxWaitTimeMs: Math.min(config.commit.intervalMs, config.heartbeatIntervalMs),
          maxPartitionFetchBytes: config.maxPartitionFetchBytes,
          concurrency,
          // Negative control only: kafkajs's round robin, which moves partitions whatever each member owns.
          stickyAssignment: config.brokenVariant !== 'round-robin-assignment',
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
