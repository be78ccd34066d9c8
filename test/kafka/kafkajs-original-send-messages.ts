/**
 * kafkajs 2.2.4's own `sendMessages` (src/producer/sendMessages.js), as published, kept here only so a test can
 * show the judge of the patched one failing on it: its retry sends a partition again when the broker that
 * acknowledged it no longer leads it. Never used by the stage.
 *
 * Copied from kafkajs 2.2.4 under its MIT License, Copyright (c) 2018 Túlio Ornelas (ornelas.tulio@gmail.com);
 * only types were added (and the `return` TypeScript wants after `bail`). Whole, the retry's error handling included: a real producer runs it in the negative
 * control on three brokers (`integration/cluster/produce-retry.test.ts`).
 */
import { createRequire } from 'node:module';

const requireFromKafkajs = createRequire(__filename);

/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-argument, @typescript-eslint/require-await */
const groupMessagesPerPartition = requireFromKafkajs('kafkajs/src/producer/groupMessagesPerPartition');
const createTopicData = requireFromKafkajs('kafkajs/src/producer/createTopicData');
const responseSerializer = requireFromKafkajs('kafkajs/src/producer/responseSerializer');
const { KafkaJSMetadataNotLoaded } = requireFromKafkajs('kafkajs/src/errors');
const { staleMetadata } = requireFromKafkajs('kafkajs/src/protocol/error');

const { keys } = Object;

export function originalSendMessages({ logger, cluster, partitioner, eosManager, retrier }: any) {
  return async ({ acks, timeout, compression, topicMessages }: any): Promise<unknown[]> => {
    const responsePerBroker = new Map<any, any>();

    const createProducerRequests = async (responsePerBroker: Map<any, any>) => {
      const topicMetadata = new Map<string, any>();

      await cluster.refreshMetadataIfNecessary();

      for (const { topic, messages } of topicMessages) {
        const partitionMetadata = cluster.findTopicPartitionMetadata(topic);

        if (partitionMetadata.length === 0) {
          logger.debug('Producing to topic without metadata', {
            topic,
            targetTopics: Array.from(cluster.targetTopics),
          });

          throw new KafkaJSMetadataNotLoaded('Producing to topic without metadata');
        }
        const messagesPerPartition = groupMessagesPerPartition({
          topic,
          partitionMetadata,
          messages,
          partitioner,
        });

        const partitions = keys(messagesPerPartition);
        const partitionsPerLeader = cluster.findLeaderForPartitions(topic, partitions);
        const leaders = keys(partitionsPerLeader);

        topicMetadata.set(topic, {
          partitionsPerLeader,
          messagesPerPartition,
        });

        for (const nodeId of leaders) {
          const broker = await cluster.findBroker({ nodeId });
          if (!responsePerBroker.has(broker)) {
            responsePerBroker.set(broker, null);
          }
        }
      }

      const brokers = Array.from(responsePerBroker.keys());
      const brokersWithoutResponse = brokers.filter((broker) => !responsePerBroker.get(broker));

      return brokersWithoutResponse.map(async (broker) => {
        const entries = Array.from(topicMetadata.entries());
        const topicDataForBroker = entries
          .filter(([, { partitionsPerLeader }]) => !!partitionsPerLeader[broker.nodeId])
          .map(([topic, { partitionsPerLeader, messagesPerPartition }]) => ({
            topic,
            partitions: partitionsPerLeader[broker.nodeId],
            messagesPerPartition,
          }));

        const topicData = createTopicData(topicDataForBroker);

        await eosManager.acquireBrokerLock(broker);
        try {
          if (eosManager.isTransactional()) {
            await eosManager.addPartitionsToTransaction(topicData);
          }

          topicData.forEach(({ topic, partitions }: any) => {
            partitions.forEach((entry: any) => {
              entry.firstSequence = eosManager.getSequence(topic, entry.partition);
              eosManager.updateSequence(topic, entry.partition, entry.messages.length);
            });
          });

          let response;
          try {
            response = await broker.produce({
              transactionalId: eosManager.isTransactional() ? eosManager.getTransactionalId() : undefined,
              producerId: eosManager.getProducerId(),
              producerEpoch: eosManager.getProducerEpoch(),
              acks,
              timeout,
              compression,
              topicData,
            });
          } catch (e) {
            topicData.forEach(({ topic, partitions }: any) => {
              partitions.forEach((entry: any) => {
                eosManager.updateSequence(topic, entry.partition, -entry.messages.length);
              });
            });
            throw e;
          }

          const expectResponse = acks !== 0;
          const formattedResponse = expectResponse ? responseSerializer(response) : [];

          responsePerBroker.set(broker, formattedResponse);
        } catch (e) {
          responsePerBroker.delete(broker);
          throw e;
        } finally {
          await eosManager.releaseBrokerLock(broker);
        }
      });
    };

    return retrier(async (bail: (e: unknown) => void, retryCount: number, retryTime: number) => {
      const topics = topicMessages.map(({ topic }: any) => topic);
      await cluster.addMultipleTargetTopics(topics);

      try {
        const requests = await createProducerRequests(responsePerBroker);
        await Promise.all(requests);
        return Array.from(responsePerBroker.values()).flat();
      } catch (e: any) {
        if (e.name === 'KafkaJSConnectionClosedError') {
          cluster.removeBroker({ host: e.host, port: e.port });
        }

        if (!cluster.isConnected()) {
          logger.debug(`Cluster has disconnected, reconnecting: ${e.message}`, {
            retryCount,
            retryTime,
          });
          await cluster.connect();
          await cluster.refreshMetadata();
          throw e;
        }

        // This is necessary in case the metadata is stale and the number of partitions
        // for this topic has increased in the meantime
        if (
          staleMetadata(e) ||
          e.name === 'KafkaJSMetadataNotLoaded' ||
          e.name === 'KafkaJSConnectionError' ||
          e.name === 'KafkaJSConnectionClosedError' ||
          (e.name === 'KafkaJSProtocolError' && e.retriable)
        ) {
          logger.error(`Failed to send messages: ${e.message}`, { retryCount, retryTime });
          await cluster.refreshMetadata();
          throw e;
        }

        logger.error(`${e.message}`, { retryCount, retryTime });
        if (e.retriable) throw e;
        bail(e);
        return undefined;
      }
    });
  };
}
/* eslint-enable */
