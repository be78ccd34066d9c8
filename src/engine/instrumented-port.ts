/**
 * The task's Kafka port with its transactions and restore progress reported as events (for the metrics and the
 * watchdog), so the task itself needs no instrumentation code.
 */
import type { StageEvents, TransactionOutcome } from '../observability/events.js';
import type { ProducerPort, TaskKafkaPort, TransactionPort } from './ports.js';

/** Behaviour is unchanged: every call is passed on. `now` times the transactions. */
export function instrumentTaskPort(
  port: TaskKafkaPort,
  partition: number,
  events: StageEvents,
  now: () => number,
): TaskKafkaPort {
  return {
    createProducer: async (transactionalId) =>
      instrumentProducer(await port.createProducer(transactionalId), partition, events, now),
    committedOffset: (groupId, topic, p) => port.committedOffset(groupId, topic, p),
    partitionRange: (topic, p) => port.partitionRange(topic, p),
    readChangelog: (topic, p, endOffset, onRecords, onProgress, fromOffset) => {
      let records = 0;
      events.emit('task.restore_progressed', { partition, records, position: null, endOffset });
      return port.readChangelog(
        topic,
        p,
        endOffset,
        (batch) => {
          records += batch.length;
          onRecords(batch);
        },
        (position) => {
          events.emit('task.restore_progressed', { partition, records, position, endOffset });
          return onProgress(position);
        },
        fromOffset,
      );
    },
  };
}

function instrumentProducer(
  producer: ProducerPort,
  partition: number,
  events: StageEvents,
  now: () => number,
): ProducerPort {
  let openedAtMs: number | undefined;
  const ended = (outcome: TransactionOutcome) => {
    if (openedAtMs === undefined) return;
    const durationMs = now() - openedAtMs;
    openedAtMs = undefined;
    events.emit('transaction.ended', { partition, outcome, durationMs });
  };
  return {
    transactionalId: producer.transactionalId,
    begin: async (): Promise<TransactionPort> => {
      const transaction = await producer.begin();
      openedAtMs = now();
      events.emit('transaction.began', {
        partition,
        transactionalId: producer.transactionalId,
        atMs: openedAtMs,
      });
      return {
        send: (records) => transaction.send(records),
        sendOffsets: (groupId, offset) => transaction.sendOffsets(groupId, offset),
        commit: async () => {
          try {
            await transaction.commit();
            ended('committed');
          } catch (error) {
            ended('aborted');
            throw error;
          }
        },
        abort: async () => {
          try {
            await transaction.abort();
          } finally {
            ended('aborted');
          }
        },
      };
    },
    close: async () => {
      ended('abandoned');
      await producer.close();
    },
  };
}
