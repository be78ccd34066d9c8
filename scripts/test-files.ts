/**
 * The compiled test files of a suite, and one run of node's test runner over them. Node 20 takes paths, not
 * globs, so the list is built here; the spec reporter is pinned because CI reads its closing lines.
 */
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const SUITES: Record<string, string> = { unit: 'dist/test', integration: 'dist/integration' };

export function collect(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return collect(path);
      return name.endsWith('.test.js') ? [path] : [];
    });
}

/**
 * Runs the files; the spec reporter goes to this process's stdout. With `outcomesFile`, the outcome reporter
 * (scripts/outcome-reporter.ts) also writes one JSON line per test result there.
 */
export function runNodeTest(
  files: string[],
  env: NodeJS.ProcessEnv,
  concurrency: number,
  outcomesFile?: string,
): Promise<number> {
  const sideStream = outcomesFile
    ? [
        '--test-reporter-destination=stdout',
        `--test-reporter=${join(__dirname, 'outcome-reporter.js')}`,
        `--test-reporter-destination=${outcomesFile}`,
      ]
    : [];
  const args = [
    '--enable-source-maps',
    '--test',
    '--test-reporter=spec',
    ...sideStream,
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
