#!/usr/bin/env node
/**
 * `npm run bench`: eos-rollup side by side with the raw read ceiling (R0), a naive kafkajs exactly-once pipe (K1,
 * and the same pipe at-least-once, K1-ALO) and Kafka Streams exactly_once_v2 (S1), on one broker and one
 * preloaded input, in interleaved rounds; then input-to-visible latency runs and a recovery run. Writes
 * bench/results/latest.{json,md,svg}. Issue 6 is the spec; README "Benchmark" says how to read the results.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { repoRoot } from '../scripts/stack/paths.js';
import { runBench, S1_JAR } from './lib/bench.js';
import { USAGE, UsageError, parseBenchArgs, type BenchOptions } from './lib/options.js';
import { renderMarkdown } from './lib/report-md.js';
import { renderSvg } from './lib/report-svg.js';
import type { BenchResult } from './lib/types.js';

function log(line: string): void {
  const at = new Date().toISOString().slice(11, 19);
  console.log(`[bench ${at}] ${line}`);
}

function ensureS1Jar(root: string): void {
  if (existsSync(join(root, S1_JAR))) return;
  const started = Date.now();
  log('S1 jar missing: mvn -q -B -f bench/streams/pom.xml package (first run only)…');
  execFileSync('mvn', ['-q', '-B', '-f', join(root, 'bench', 'streams', 'pom.xml'), 'package'], {
    stdio: 'inherit',
  });
  log(`S1 jar built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

function writeReports(result: BenchResult, outDir: string): string[] {
  mkdirSync(outDir, { recursive: true });
  const files: [string, string][] = [
    [join(outDir, 'latest.json'), `${JSON.stringify(result, null, 2)}\n`],
    [join(outDir, 'latest.md'), renderMarkdown(result)],
    [join(outDir, 'latest.svg'), renderSvg(result)],
  ];
  for (const [file, text] of files) writeFileSync(file, text);
  return files.map(([file]) => file);
}

/** The report up to the latency section: ratios, targets and medians, for the terminal. */
function headline(markdown: string): string {
  const end = markdown.indexOf('\n## Input-to-visible');
  return (end < 0 ? markdown : markdown.slice(0, end)).trim();
}

async function main(): Promise<number> {
  let options: Readonly<BenchOptions> | undefined;
  try {
    options = parseBenchArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`bench: ${error.message}\n${USAGE}`);
    return 2;
  }
  if (!options) {
    console.log(USAGE);
    return 0;
  }
  const result = await runBench(options, log, ensureS1Jar);
  const files = writeReports(result, resolve(repoRoot(), options.outDir));
  console.log(`\n${headline(renderMarkdown(result))}\n`);
  log(`done in ${result.elapsedS} s: ${files.join(', ')}`);
  return 0;
}

// process.exit: a kafkajs client or timer left behind must not keep a finished bench alive; the children are
// gone by then (and killed on exit if not).
main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
