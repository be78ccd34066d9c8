/**
 * Live load with random kills: records keep flowing while stage instances are SIGKILLed (or frozen with SIGSTOP)
 * and restarted at random; at the end the load stops, every instance runs until the input is drained, and the
 * auditor checks the whole run. Shared by scenario F05 (short, in the gate) and the soak (`npm run test:soak`).
 * Whether a random kill lands inside a transaction is chance, so the first `heldStrikes` faults are placed: each
 * kills an instance started with a `hold` fault, once it is seen held inside its transaction.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka } from 'kafkajs';
import { partitionRanges } from '../../src/kafka/client/offsets.js';
import { seededRandom, metrics } from '../../src/tools/workload.js';
import type { TestEnvironment } from './environment.js';
import { waitUntilHeld } from './fault-hold.js';
import { createTopicsWithConfig } from './kafka.js';
import {
  createPipeline,
  loadInventory,
  produceFlush,
  workloadWriter,
  startStage,
  waitForDrain,
  type PipelineNames,
  type StageProcess,
} from './pipeline.js';
import { FAULT_SETTINGS, START_MS, auditScenario, type AuditOutcome } from './scenario.js';

export interface ChaosOptions {
  durationMs: number;
  instances: number;
  partitions: number;
  seed: number;
  /** Time between two faults, drawn uniformly from this range. */
  faultEveryMs: [number, number];
  /** Share of faults that freeze an instance (SIGSTOP past the session timeout, then SIGCONT) instead of killing it. */
  zombieShare: number;
  /** Input rate of the live load; keep it below what the stage sustains while being killed, or it never drains. */
  recordsPerSecond?: number;
  /** Faults, first of all, that kill an instance held inside an open transaction: a floor by construction. */
  heldStrikes?: number;
  log?: (line: string) => void;
}

export interface ChaosResult {
  names: PipelineNames;
  kills: number;
  /** Random kills while some partition had an open transaction (LSO below the high watermark): chance. */
  killsInsideOpenTransaction: number;
  /** Kills of an instance seen held at its fault point, inside its transaction: certain, one per held strike. */
  heldKills: number;
  zombies: number;
  fencingsObserved: number;
  recordsProduced: number;
  outcome: AuditOutcome;
}

/** True when some partition the stage writes has an open transaction (last stable offset below the high watermark). */
async function hasOpenTransaction(kafka: Kafka, names: PipelineNames): Promise<boolean> {
  for (const topic of [names.changelog, names.output]) {
    try {
      const [stable, high] = await Promise.all([
        partitionRanges(kafka, topic, 'read_committed'),
        partitionRanges(kafka, topic, 'read_uncommitted'),
      ]);
      for (const [partition, range] of stable)
        if (range.end < (high.get(partition)?.end ?? range.end)) return true;
    } catch {
      // topic not created yet
    }
  }
  return false;
}

export async function runChaos(
  env: TestEnvironment,
  kafka: Kafka,
  options: ChaosOptions,
): Promise<ChaosResult> {
  const log = options.log ?? (() => undefined);
  const random = seededRandom(options.seed);
  const names = await createPipeline(kafka, options.partitions);
  // The auditor counts changelog records per transaction, so the changelog must not be compacted during the run.
  await createTopicsWithConfig(kafka, [
    {
      topic: names.changelog,
      partitions: options.partitions,
      config: { 'cleanup.policy': 'compact', 'min.compaction.lag.ms': String(24 * 3_600_000) },
    },
  ]);
  await loadInventory(env, kafka, names.inventory, []);
  const settings: Record<string, string> = { ...FAULT_SETTINGS, COMMIT_MAX_RECORDS: '1000' };
  const all: StageProcess[] = [];
  const slots: (StageProcess | undefined)[] = [];
  let heldToStrike = options.heldStrikes ?? 0;
  /** The instance that will be struck while held, with its slot; at most one at a time. */
  let armed: { slot: number; stage: StageProcess } | undefined;
  const launch = (slot: number) => {
    const hold = heldToStrike > 0 && armed === undefined;
    const stage = startStage(env, names, {
      ...settings,
      INSTANCE_ID: `chaos-${slot}-${all.length}`,
      ...(hold ? { EOS_ROLLUP_FAULT: 'before-commit@3:hold' } : {}),
    });
    all.push(stage);
    slots[slot] = stage;
    if (hold) armed = { slot, stage };
  };
  for (let slot = 0; slot < options.instances; slot++) launch(slot);

  let produced = 0;
  const load = { running: true };
  let step = 0;
  const hosts = 100;
  const perHost = 5;
  const sliceRecords = hosts * perHost;
  const pauseMs = Math.max(0, (1000 * sliceRecords) / (options.recordsPerSecond ?? 1000));
  // Schemas registered and the producer connected once: a registry slow under the soak's load (Apicurio timed out
  // registering after minutes of it) must not end the run, and each slice is then one send.
  const writer = await workloadWriter(env, kafka, names, options.partitions);
  const producer = (async () => {
    while (load.running) {
      // Event time advances with each slice, so windows keep closing while faults land.
      const slice = [
        ...metrics({
          hosts,
          perHost,
          startMs: START_MS + step * 10_000,
          stepMs: 2000,
          seed: options.seed + step,
        }),
      ];
      await writer.write(slice);
      produced += slice.length;
      step += 1;
      await sleep(pauseMs);
    }
  })();

  let kills = 0;
  let insideOpen = 0;
  let heldKills = 0;
  let zombies = 0;
  const deadline = Date.now() + options.durationMs;
  // The placed strikes and one random kill happen however slowly instances restart on a loaded machine.
  const floor = (options.heldStrikes ?? 0) + 1;
  while (Date.now() < deadline || kills < floor) {
    const [low, high] = options.faultEveryMs;
    await sleep(low + random() * (high - low));
    if (armed) {
      const { slot, stage } = armed;
      await waitUntilHeld(stage);
      stage.child.kill('SIGKILL');
      await stage.exited;
      kills += 1;
      heldKills += 1;
      heldToStrike -= 1;
      armed = undefined;
      log(`chaos: killed instance ${slot} (pid ${stage.child.pid}) held inside its transaction; restarting`);
      launch(slot);
      continue;
    }
    const slot = Math.floor(random() * options.instances);
    const victim = slots[slot];
    if (!victim) continue;
    if (random() < options.zombieShare) {
      victim.child.kill('SIGSTOP');
      zombies += 1;
      log(`chaos: froze instance ${slot} (pid ${victim.child.pid})`);
      await sleep(Number(settings.SESSION_TIMEOUT_MS ?? '3000') + 1500);
      victim.child.kill('SIGCONT');
      continue;
    }
    if (await hasOpenTransaction(kafka, names)) insideOpen += 1;
    victim.child.kill('SIGKILL');
    await victim.exited;
    kills += 1;
    log(`chaos: killed instance ${slot} (pid ${victim.child.pid}); restarting`);
    launch(slot);
  }
  load.running = false;
  await producer;
  await writer.close();
  await produceFlush(env, kafka, names, options.partitions, START_MS + (step + 400) * 10_000);
  const alive = slots.filter((s): s is StageProcess => s !== undefined);
  await waitForDrain(kafka, names, 600_000, alive);
  for (const stage of alive) await stage.stop('SIGTERM');
  const fencingsObserved = all.reduce(
    (sum, s) => sum + (s.output().match(/"kind":"fenced"/g) ?? []).length,
    0,
  );
  const outcome = await auditScenario(env, kafka, names, true);
  return {
    names,
    kills,
    killsInsideOpenTransaction: insideOpen,
    heldKills,
    zombies,
    fencingsObserved,
    recordsProduced: produced,
    outcome,
  };
}
