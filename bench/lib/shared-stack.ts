/**
 * The frame of a bench tool that measures on the shared stack (`npm run stack:up`, addresses in .stack/env):
 * a kafkajs client, the offset probe, and a BenchContext whose topics and groups all start with one tag, so the
 * tool deletes everything it made at the end. `bench:profile` and `bench:soak` use it; the full benchmark starts
 * a private broker of its own.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { repoRoot } from '../../scripts/stack/paths.js';
import { OffsetProbe } from './offsets.js';
import type { BenchContext } from './peers.js';
import { loadInventory } from './workload.js';

export interface SharedStack {
  kafka: Kafka;
  probe: OffsetProbe;
  context: BenchContext;
  /** Deletes every topic and group of the tag, and disconnects. */
  close: () => Promise<void>;
}

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    throw new Error(`${name} is not set: load the shared stack's addresses (set -a; . .stack/env; set +a)`);
  }
  return value;
}

/** Connects to the shared stack, with `hosts` hosts in a fresh compacted inventory topic of `partitions`. */
export async function openSharedStack(
  tool: string,
  settings: { partitions: number; windowMs: number; hosts: number },
): Promise<SharedStack> {
  const root = repoRoot();
  const logDir = join(root, 'bench', 'results', 'logs');
  mkdirSync(logDir, { recursive: true });
  const brokers = required('KAFKA_BROKERS');
  const registryUrl = required('SCHEMA_REGISTRY_URL');
  const kafka = new Kafka({ clientId: `eos-rollup-${tool}`, brokers: [brokers], logLevel: logLevel.NOTHING });
  const probe = await OffsetProbe.connect(kafka);
  const tag = `${tool}-${Date.now().toString(36)}`;
  const context: BenchContext = {
    root,
    brokers,
    registryUrl,
    inventoryTopic: `${tag}-inventory`,
    partitions: settings.partitions,
    windowMs: settings.windowMs,
    graceMs: 5000,
    sessionTimeoutMs: 10_000,
    logDir,
    tag,
    s1Jar: '',
    s1Java: '',
    s1Heap: '',
  };
  const close = async () => {
    await probe.deleteEverything(tag).catch(() => undefined);
    await probe.close();
  };
  try {
    await probe.createTopic(context.inventoryTopic, settings.partitions, [
      { name: 'cleanup.policy', value: 'compact' },
    ]);
    await loadInventory(kafka, registryUrl, context.inventoryTopic, settings.hosts);
  } catch (error) {
    await close();
    throw error;
  }
  return { kafka, probe, context, close };
}
