/**
 * Restore time of one task with and without a local state checkpoint (STATE_DIR), on the broker of
 * KAFKA_BROKERS: a changelog partition of RECORDS window records (in transactions of 10,000, with lineage
 * headers, as the stage writes them) is restored in full, the checkpoint saved as at a clean close, then
 * restored again from it. `node dist/bench/restore-checkpoint.js [records]`.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import pino from 'pino';
import { CommitLedger } from '../src/engine/commit-ledger.js';
import { FaultInjector } from '../src/engine/faults.js';
import { lineageHeaders } from '../src/engine/lineage.js';
import type { ProducerPort } from '../src/engine/ports.js';
import { TaskCheckpoint } from '../src/engine/state-checkpoint.js';
import { StateRestorer } from '../src/engine/state-restorer.js';
import { KafkajsTaskPort } from '../src/kafka/stage/task-kafka.js';
import { StageEvents, type StageEventMap } from '../src/observability/events.js';
import { encodeAggregate, encodeWindowKey } from '../src/rollup/changelog-codec.js';
import { WindowStore } from '../src/rollup/window-store.js';

const RECORDS = Number(process.argv[2] ?? 250_000);
const TXN = 10_000;

async function produceChangelog(kafka: Kafka, topic: string): Promise<void> {
  const producer = kafka.producer({ transactionalId: `bench-${randomUUID()}`, maxInFlightRequests: 1 });
  await producer.connect();
  for (let sent = 0; sent < RECORDS; sent += TXN) {
    const txn = await producer.transaction();
    const messages = Array.from({ length: Math.min(TXN, RECORDS - sent) }, (_, i) => {
      // 20,000 distinct windows, each written again and again, as open windows are.
      const n = (sent + i) % 20_000;
      const agg = {
        host: `host-${n % 2000}`,
        windowStart: 60_000 * Math.floor(n / 2000),
        count: sent + i + 1,
        cpu: { min: 1, max: 2, sum: 3 },
        mem: { min: 1, max: 2, sum: 3 },
        disk_read_bytes: 1,
        disk_write_bytes: 2,
        net_rx_bytes: 3,
        net_tx_bytes: 4,
        first_event_time: 0,
        last_event_time: 1,
        enrichment: { region: 'r', datacenter: 'd', role: 'x' },
      };
      return {
        key: encodeWindowKey(agg.host, agg.windowStart),
        value: encodeAggregate(agg),
        // The six lineage headers every changelog record of the stage carries.
        headers: lineageHeaders({
          sourceTopic: 'bench-input',
          sourcePartition: 0,
          firstOffset: String(sent),
          lastOffset: String(sent + TXN - 1),
          attemptId: `bench/p0/${sent}`,
          recordCount: TXN,
        }),
      };
    });
    for (let i = 0; i < messages.length; i += 2000) {
      await txn.send({ topic, messages: messages.slice(i, i + 2000) });
    }
    await txn.commit();
  }
  await producer.disconnect();
}

async function restoreOnce(
  port: KafkajsTaskPort,
  changelog: string,
  checkpoint: TaskCheckpoint,
): Promise<{ store: WindowStore; restored: StageEventMap['task.restored'] }> {
  const events = new StageEvents();
  let restored: StageEventMap['task.restored'] | undefined;
  events.on('task.restored', (e) => (restored = e));
  const store = new WindowStore();
  const restorer = new StateRestorer(
    0,
    {
      groupId: `bench-${randomUUID()}`,
      topics: { input: changelog, changelog },
      kafka: port,
      transactionalId: `bench-restore-${randomUUID()}`,
      commitLedger: new CommitLedger(),
      events,
      faults: new FaultInjector([]),
      now: () => Date.now(),
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    },
    store,
    pino({ level: 'warn' }),
    () => false,
    checkpoint,
  );
  const producers: ProducerPort[] = [];
  await restorer.initialize(
    (p) => producers.push(p),
    () => Promise.resolve(),
  );
  for (const p of producers) await p.close();
  if (!restored) throw new Error('no task.restored event');
  return { store, restored };
}

async function main(): Promise<void> {
  const brokers = (process.env.KAFKA_BROKERS ?? '').split(',');
  const kafka = new Kafka({ clientId: 'bench-restore', brokers, logLevel: logLevel.WARN });
  const changelog = `bench-restore-${randomUUID().slice(0, 8)}-changelog`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: changelog, numPartitions: 1 }], waitForLeaders: true });
  const stateDir = mkdtempSync(join(tmpdir(), 'bench-restore-'));
  try {
    await produceChangelog(kafka, changelog);
    const port = new KafkajsTaskPort(kafka, { transactionTimeoutMs: 60_000, initialRetryMs: 30 });
    const id = { appId: 'bench', changelog, partition: 0 };
    const log = pino({ level: 'warn' });
    const full = await restoreOnce(port, changelog, new TaskCheckpoint(stateDir, id, port, log));
    const saving = new TaskCheckpoint(stateDir, id, port, log);
    // As a task closing cleanly right after its restore: the checkpoint holds what the store holds.
    const again = await restoreOnce(port, changelog, saving);
    const savedAt = Date.now();
    await saving.save(again.store);
    const saveMs = Date.now() - savedAt;
    const fromCheckpoint = await restoreOnce(port, changelog, new TaskCheckpoint(stateDir, id, port, log));
    const same = JSON.stringify(full.store.snapshot()) === JSON.stringify(fromCheckpoint.store.snapshot());
    console.log(
      JSON.stringify({
        changelogRecords: RECORDS,
        full: { records: full.restored.records, durationMs: full.restored.durationMs },
        checkpointSaveMs: saveMs,
        fromCheckpoint: {
          fromCheckpoint: fromCheckpoint.restored.fromCheckpoint,
          tailRecords: fromCheckpoint.restored.records,
          durationMs: fromCheckpoint.restored.durationMs,
        },
        sameState: same,
      }),
    );
  } finally {
    await admin.deleteTopics({ topics: [changelog] }).catch(() => undefined);
    await admin.disconnect();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
