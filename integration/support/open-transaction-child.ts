/**
 * A process that opens a transaction, sends records in it, reports "sent" on stdout, and then waits to be
 * killed: the orphaned open transaction of a crashed producer, made for real.
 * argv: brokers transactionalId topic count
 */
import { Kafka, logLevel } from 'kafkajs';

async function main(): Promise<void> {
  const [brokers, transactionalId, topic, count] = process.argv.slice(2);
  if (!brokers || !transactionalId || !topic || !count)
    throw new Error('usage: brokers transactionalId topic count');
  const kafka = new Kafka({ brokers: brokers.split(','), clientId: 'orphan', logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ transactionalId, maxInFlightRequests: 1, idempotent: true });
  await producer.connect();
  const transaction = await producer.transaction();
  await transaction.send({
    topic,
    messages: Array.from({ length: Number(count) }, (_, i) => ({ key: 'orphan', value: `orphan-${i}` })),
  });
  process.stdout.write('sent\n');
  setInterval(() => undefined, 60_000);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
