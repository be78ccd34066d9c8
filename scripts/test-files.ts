/**
 * The compiled test files of a suite, and one run of node's test runner over them. Node 20 takes paths, not
 * globs, so the list is built here; the spec reporter is pinned because CI reads its closing lines.
 */
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const SUITES: Record<string, string> = { unit: 'dist/test', integration: 'dist/integration' };

/**
 * How a suite's test files run. `fileTimeoutMs` is the longest a test file may run before node's runner cancels
 * it (Node 20 times whole files out; Node 22 and later each test), far above the slowest file's usual time. Every
 * await on a broker or a registry has its own deadline; this one turns anything still missed into a loud failure
 * within the CI budget instead of a run that never ends.
 *
 * Broker files end by `--test-force-exit`, because a cancelled test may leave a socket to a broker open; their
 * results are few and long. The unit suite runs two files at a time, many short results each, and there Node 20
 * and 24 both lose the tail of a file's results under `--test-force-exit` (its process exits before its report
 * reaches the runner; the run still counts short and exits 0). So the unit files end on their own, and a file
 * that keeps its process alive after its tests is caught by the run's deadline.
 */
export interface RunPolicy {
  concurrency: number;
  fileTimeoutMs: number;
  forceExit: boolean;
  /** The runner and every file process it started are killed after this long, and the run fails saying so. */
  runDeadlineMs: number;
}

export const RUN_POLICY = {
  unit: { concurrency: 2, fileTimeoutMs: 120_000, forceExit: false, runDeadlineMs: 600_000 },
  integration: { concurrency: 1, fileTimeoutMs: 480_000, forceExit: true, runDeadlineMs: 4 * 3_600_000 },
  soak: { concurrency: 1, fileTimeoutMs: 3_600_000, forceExit: true, runDeadlineMs: 12 * 3_600_000 },
} as const satisfies Record<string, RunPolicy>;

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
export function nodeTestArgs(files: string[], policy: RunPolicy, outcomesFile?: string): string[] {
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
    `--test-concurrency=${policy.concurrency}`,
    `--test-timeout=${policy.fileTimeoutMs}`,
    ...(policy.forceExit ? ['--test-force-exit'] : []),
    ...files,
  ];
}

/**
 * Runs the files; the spec reporter goes to this process's stdout. With `outcomesFile`, the outcome reporter
 * (scripts/outcome-reporter.ts) also writes one JSON line per test result there. The runner gets its own
 * process group, so the deadline ends the file processes too; an interrupt of this process is passed on to it.
 */
export function runNodeTest(
  files: string[],
  env: NodeJS.ProcessEnv,
  policy: RunPolicy,
  outcomesFile?: string,
): Promise<number> {
  const args = nodeTestArgs(files, policy, outcomesFile);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: 'inherit', env, detached: true });
    const signalGroup = (signal: NodeJS.Signals) => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, signal);
      } catch {
        // ESRCH: the group has ended.
      }
    };
    process.on('SIGINT', signalGroup).on('SIGTERM', signalGroup);
    let overran = false;
    const deadline = setTimeout(() => {
      overran = true;
      console.error(
        `run-tests: the run outlasted its deadline of ${policy.runDeadlineMs / 1000} s (a test file's process ` +
          'stayed alive after its tests: a socket or timer left open); killed the runner and its files',
      );
      signalGroup('SIGKILL');
    }, policy.runDeadlineMs);
    child.on('exit', (code, signal) => {
      clearTimeout(deadline);
      process.off('SIGINT', signalGroup).off('SIGTERM', signalGroup);
      // A file process the runner left behind goes with it.
      signalGroup('SIGKILL');
      resolve(overran ? 1 : (code ?? (signal ? 128 : 1)));
    });
  });
}
