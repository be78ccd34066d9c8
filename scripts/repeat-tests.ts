#!/usr/bin/env node
/**
 * `npm run test:repeat -- <n> [pattern...]`: the integration suite, or its files whose path contains one of the
 * patterns, n times in a row against one broker and registry (acquired once, as scripts/run-tests.ts does), then a table of
 * test × failures and what each file cost. The spec reporter still prints every round for humans; the table is
 * built from the outcome reporter's side stream. Exits non-zero when any test failed or went missing in any round.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireEnvironment } from '../integration/support/environment.js';
import { repoRoot } from './stack/paths.js';
import { RUN_POLICY, SUITES, collect, runNodeTest } from './test-files.js';
import { fileCosts, formatReport, parseOutcomes, tally, type OutcomeLine } from './test-outcomes.js';

function usage(): number {
  console.error('usage: repeat-tests <rounds ≥ 1> [substring of an integration test file path...]');
  return 2;
}

async function main(): Promise<number> {
  const [roundsText, ...patterns] = process.argv.slice(2);
  const rounds = Number(roundsText);
  if (!Number.isInteger(rounds) || rounds < 1) return usage();
  const root = repoRoot();
  const files = collect(join(root, SUITES.integration ?? 'dist/integration')).filter(
    (file) => patterns.length === 0 || patterns.some((pattern) => file.includes(pattern)),
  );
  if (files.length === 0) {
    console.error(`no integration test files matching ${patterns.map((p) => `"${p}"`).join(' or ')}`);
    return 1;
  }
  const environment = await acquireEnvironment();
  console.log(
    `repeat: ${rounds} rounds of ${files.length} files; ${environment.kind} broker ${environment.brokers}, registry ${environment.registryUrl}`,
  );
  const scratch = mkdtempSync(join(tmpdir(), 'eos-rollup-repeat-'));
  const results: OutcomeLine[][] = [];
  const started = Date.now();
  try {
    for (let round = 1; round <= rounds; round++) {
      const roundStarted = Date.now();
      console.log(`\nrepeat: round ${round}/${rounds}`);
      const outcomesFile = join(scratch, `round-${round}.jsonl`);
      const code = await runNodeTest(
        files,
        { ...process.env, KAFKA_BROKERS: environment.brokers, SCHEMA_REGISTRY_URL: environment.registryUrl },
        RUN_POLICY.integration,
        outcomesFile,
      );
      let text = '';
      try {
        text = readFileSync(outcomesFile, 'utf8');
      } catch {
        // the runner died before writing anything: every test of the round counts as missing
      }
      results.push(parseOutcomes(text));
      console.log(
        `repeat: round ${round}/${rounds} exited ${code} after ${((Date.now() - roundStarted) / 1000).toFixed(1)}s`,
      );
    }
  } finally {
    await environment.release();
    rmSync(scratch, { recursive: true, force: true });
  }
  const rows = tally(results);
  console.log(`\n${formatReport(rows, fileCosts(results), rounds, root)}`);
  console.log(`\nrepeat: ${rounds} rounds in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  return rows.length > 0 && rows.every((row) => row.failures === 0 && row.missing === 0) ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`repeat-tests: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 1;
  },
);
