#!/usr/bin/env node
/**
 * `npm run test:soak -- --minutes N --seed S [--instances 3] [--partitions 6]`: a live load on several stage
 * instances with random SIGKILLs every 10-30 s and zombie pauses (SIGSTOP past the session timeout), ending with
 * the auditor. Prints kills, kills that landed inside an open transaction (the first three are placed there:
 * held, then killed), fencings observed, records and violations; exits 1 on any violation, or when a placed kill
 * did not land. Not part of `npm test`.
 * `npm run test:soak -- --cluster` runs the longer three-broker scenarios instead (integration/cluster/soak).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { formatReport } from '../src/audit/auditor.js';
import { runChaos } from '../integration/support/chaos.js';
import { acquireEnvironment } from '../integration/support/environment.js';
import { testKafka } from '../integration/support/kafka.js';
import { repoRoot } from './stack/paths.js';
import { RUN_POLICY, runNodeTest } from './test-files.js';

/**
 * The cluster scenarios too long for CI: *.soak.js files, which the integration suite does not collect. Each
 * starts its own three brokers; the environment gives them the registry.
 */
async function clusterSoak(): Promise<number> {
  const dir = join(repoRoot(), 'dist', 'integration', 'cluster', 'soak');
  const files = readdirSync(dir)
    .filter((name) => name.endsWith('.soak.js'))
    .map((name) => join(dir, name));
  const env = await acquireEnvironment();
  try {
    return await runNodeTest(
      files,
      { ...process.env, KAFKA_BROKERS: env.brokers, SCHEMA_REGISTRY_URL: env.registryUrl },
      RUN_POLICY.soak,
    );
  } finally {
    await env.release();
  }
}

const HELD_STRIKES = 3;

function positiveInteger(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 1)
    throw new Error(`--${name} "${value}" is not allowed: expected a positive integer`);
  return parsed;
}

const USAGE = `usage: npm run test:soak -- [--minutes N (5)] [--seed S (1)] [--instances N (3)] [--partitions N (6)]
       npm run test:soak -- --cluster   (the three-broker scenarios)`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string' },
      seed: { type: 'string' },
      instances: { type: 'string' },
      partitions: { type: 'string' },
      cluster: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help === true) {
    console.log(USAGE);
    return 0;
  }
  if (values.cluster === true) return clusterSoak();
  const minutes = positiveInteger('minutes', values.minutes, 5);
  const seed = positiveInteger('seed', values.seed, 1);
  const instances = positiveInteger('instances', values.instances, 3);
  const partitions = positiveInteger('partitions', values.partitions, 6);
  const env = await acquireEnvironment();
  try {
    const started = Date.now();
    console.log(
      `soak: ${minutes} min, seed ${seed}, ${instances} instances, ${partitions} partitions against ${env.brokers}`,
    );
    const result = await runChaos(env, testKafka(env), {
      durationMs: minutes * 60_000,
      instances,
      partitions,
      seed,
      faultEveryMs: [10_000, 30_000],
      zombieShare: 0.2,
      heldStrikes: HELD_STRIKES,
      log: (line) => {
        console.log(`[${Math.round((Date.now() - started) / 1000)}s] ${line}`);
      },
    });
    const { report } = result.outcome;
    console.log(
      [
        `kills: ${result.kills} (${result.heldKills} held inside a transaction, ${result.killsInsideOpenTransaction} of the random ones while a transaction was open)`,
        `zombie pauses: ${result.zombies}`,
        `fencings observed: ${result.fencingsObserved}`,
        `records produced: ${result.recordsProduced}`,
        `aborted records seen by read_uncommitted: ${result.outcome.abortedRecords}`,
        `violations: ${report.violations.length}`,
      ].join('\n'),
    );
    console.log(formatReport(report));
    return report.violations.length === 0 && result.heldKills === HELD_STRIKES ? 0 : 1;
  } finally {
    await env.release();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    // A mistyped option is the user's error, not the soak's: one line and the usage, no stack.
    const usage = (error as { code?: unknown }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION';
    console.error(
      usage
        ? `soak: ${(error as Error).message}\n${USAGE}`
        : `soak: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    process.exitCode = 1;
  },
);
