/**
 * The compiled test files of a suite, and one run of node's test runner over them. Node 20 takes paths, not
 * globs, so the list is built here; the spec reporter is pinned because CI reads its closing lines.
 */
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const SUITES: Record<string, string> = { unit: 'dist/test', integration: 'dist/integration' };

/**
 * The longest a test file may run before node's runner cancels it (Node 20 times whole files out; Node 22 and
 * later each test), far above the slowest file's usual time. Every await on a broker or a registry has its own
 * deadline; this one turns anything still missed into a loud failure within the CI budget instead of a run that
 * never ends. `--test-force-exit` then ends the file's process even if a cancelled test left a socket open.
 */
export const FILE_TIMEOUT_MS = { unit: 120_000, integration: 480_000, soak: 3_600_000 } as const;

export function collect(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return collect(path);
      return name.endsWith('.test.js') ? [path] : [];
    });
}

/** The runner's arguments: the spec reporter to stdout, and with `outcomesFile` the outcome reporter there too. */
export function nodeTestArgs(
  files: string[],
  concurrency: number,
  timeoutMs: number,
  outcomesFile?: string,
): string[] {
  const sideStream = outcomesFile
    ? [
        '--test-reporter-destination=stdout',
        `--test-reporter=${join(__dirname, 'outcome-reporter.js')}`,
        `--test-reporter-destination=${outcomesFile}`,
      ]
    : [];
  return [
    '--enable-source-maps',
    '--test',
    '--test-reporter=spec',
    ...sideStream,
    `--test-concurrency=${concurrency}`,
    `--test-timeout=${timeoutMs}`,
    '--test-force-exit',
    ...files,
  ];
}

/**
 * Runs the files; the spec reporter goes to this process's stdout. With `outcomesFile`, the outcome reporter
 * (scripts/outcome-reporter.ts) also writes one JSON line per test result there.
 */
export function runNodeTest(
  files: string[],
  env: NodeJS.ProcessEnv,
  concurrency: number,
  timeoutMs: number,
  outcomesFile?: string,
): Promise<number> {
  const args = nodeTestArgs(files, concurrency, timeoutMs, outcomesFile);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: 'inherit', env });
    child.on('exit', (code, signal) => {
      resolve(code ?? (signal ? 128 : 1));
    });
  });
}
