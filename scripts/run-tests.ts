#!/usr/bin/env node
/**
 * Runs node's test runner over the compiled test files of one suite. Node 20 takes paths, not globs, so the
 * list is built here; the spec reporter is pinned because CI reads its closing lines. The integration suite
 * acquires one broker and registry for all its files (integration/support/environment.ts) and passes them down.
 */
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { acquireEnvironment } from '../integration/support/environment.js';
import { repoRoot } from './stack/paths.js';

const SUITES: Record<string, string> = { unit: 'dist/test', integration: 'dist/integration' };

function collect(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return collect(path);
      return name.endsWith('.test.js') ? [path] : [];
    });
}

function runNodeTest(files: string[], env: NodeJS.ProcessEnv, concurrency: number): Promise<number> {
  const args = [
    '--enable-source-maps',
    '--test',
    '--test-reporter=spec',
    `--test-concurrency=${concurrency}`,
    ...files,
  ];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: 'inherit', env });
    child.on('exit', (code, signal) => {
      resolve(code ?? (signal ? 128 : 1));
    });
  });
}

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
  if (suite === 'unit') return runNodeTest(files, process.env, 2);

  const environment = await acquireEnvironment();
  console.log(
    `integration: ${environment.kind} broker ${environment.brokers}, registry ${environment.registryUrl}`,
  );
  try {
    return await runNodeTest(
      files,
      { ...process.env, KAFKA_BROKERS: environment.brokers, SCHEMA_REGISTRY_URL: environment.registryUrl },
      1,
    );
  } finally {
    await environment.release();
  }
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
