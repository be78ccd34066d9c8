#!/usr/bin/env node
/**
 * Runs node's test runner over the compiled test files of one suite (scripts/test-files.ts). The integration
 * suite acquires one broker and registry for all its files (integration/support/environment.ts) and passes them
 * down.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative as relativePath } from 'node:path';
import { acquireEnvironment } from '../integration/support/environment.js';
import { repoRoot } from './stack/paths.js';
import { RUN_POLICY, SUITES, collect, runNodeTest } from './test-files.js';
import { fileCosts, parseOutcomes } from './test-outcomes.js';

async function main(): Promise<number> {
  const [suite, filter] = process.argv.slice(2);
  const relative = suite ? SUITES[suite] : undefined;
  if (!suite || !relative) {
    console.error(`usage: run-tests <${Object.keys(SUITES).join('|')}> [substring of a file path]`);
    return 2;
  }
  const root = repoRoot();
  const files = collect(join(root, relative)).filter((file) => !filter || file.includes(filter));
  if (files.length === 0) {
    console.error(`no test files under ${relative}${filter ? ` matching "${filter}"` : ''}`);
    return 1;
  }
  if (suite === 'unit') return runNodeTest(files, process.env, RUN_POLICY.unit);

  const environment = await acquireEnvironment();
  console.log(
    `integration: ${environment.kind} broker ${environment.brokers}, registry ${environment.registryUrl}`,
  );
  // What each file cost, printed after the spec output: the budget of CI's run is spent file by file.
  const scratch = mkdtempSync(join(tmpdir(), 'eos-rollup-tests-'));
  const outcomesFile = join(scratch, 'outcomes.jsonl');
  try {
    return await runNodeTest(
      files,
      { ...process.env, KAFKA_BROKERS: environment.brokers, SCHEMA_REGISTRY_URL: environment.registryUrl },
      RUN_POLICY.integration,
      outcomesFile,
    );
  } finally {
    await environment.release();
    printSlowestFiles(outcomesFile, root);
    rmSync(scratch, { recursive: true, force: true });
  }
}

function printSlowestFiles(outcomesFile: string, root: string, count = 10): void {
  if (!existsSync(outcomesFile)) return;
  const costs = fileCosts([parseOutcomes(readFileSync(outcomesFile, 'utf8'))]).slice(0, count);
  console.log(`\nslowest ${costs.length} integration files (wall time):`);
  for (const cost of costs)
    console.log(`${(cost.meanMs / 1000).toFixed(1).padStart(7)}s  ${relativePath(root, cost.file)}`);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`run-tests: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 1;
  },
);
