/**
 * The runner's safety net, on the Node that runs this suite: a test file that waits forever on a socket it never
 * closes is cancelled within its timeout and its process ends (broker suites), or the run's deadline ends it (unit
 * suite), so a run fails loudly instead of standing still; and a unit run reports every result its files produced.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { RUN_POLICY, nodeTestArgs } from '../../scripts/test-files.js';

const HANGING_FILE = `
const { test } = require('node:test');
const net = require('node:net');
test('waits on a socket that never answers', async () => {
  const server = net.createServer(() => undefined).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  net.connect(server.address().port, '127.0.0.1');
  await new Promise(() => undefined);
});
`;

function run(args: string[], guardMs: number): Promise<{ code: number | null; output: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    // Without the marker node's runner leaves in its children, the nested runner runs its files.
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    // Its own process group: the guard kills the runner and the file's process it started, not the runner alone.
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env, detached: true });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const killGroup = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // ESRCH: nothing of the group is left.
      }
    };
    // The control below must not hang this suite either.
    const guard = setTimeout(killGroup, guardMs);
    child.on('exit', (code) => {
      clearTimeout(guard);
      // Whatever the runner left of its group goes with it.
      killGroup();
      resolve({ code, output, ms: Date.now() - started });
    });
  });
}

function scratchFiles(files: Record<string, string>): { paths: string[]; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'eos-rollup-runner-'));
  const paths = Object.entries(files).map(([name, text]) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  });
  return {
    paths,
    remove: () => {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

test('a broker-suite file that never ends is cancelled after the timeout, and the run fails with the reason', async () => {
  const { paths, remove } = scratchFiles({ 'hangs.test.js': HANGING_FILE });
  try {
    const policy = { ...RUN_POLICY.integration, fileTimeoutMs: 1000 };
    const result = await run(nodeTestArgs(paths, policy), 30_000);
    assert.notEqual(result.code, 0, result.output);
    assert.notEqual(result.code, null, `the runner itself hung and was killed:\n${result.output}`);
    assert.match(result.output, /timed out after 1000ms/);
    assert.ok(result.ms < 15_000, `ended in ${result.ms} ms`);

    // Negative control: without the runner's timeout the same file is still running when the guard kills it.
    const unbounded = nodeTestArgs(paths, policy).filter((a) => !a.startsWith('--test-timeout'));
    const control = await run(unbounded, 5000);
    assert.equal(control.code, null, `without a timeout the file ended on its own:\n${control.output}`);
  } finally {
    remove();
  }
});

test('a unit file that never ends fails the run by the run deadline at the latest, with the reason', async () => {
  const { paths, remove } = scratchFiles({ 'hangs.test.js': HANGING_FILE });
  try {
    assert.equal(RUN_POLICY.unit.forceExit, false);
    const policy = { ...RUN_POLICY.unit, fileTimeoutMs: 1000, runDeadlineMs: 6000 };
    const script =
      `require(${JSON.stringify(join(__dirname, '../../scripts/test-files.js'))})` +
      `.runNodeTest(${JSON.stringify(paths)}, process.env, ${JSON.stringify(policy)})` +
      '.then((code) => { process.exitCode = code; });';
    const result = await run(['-e', script], 30_000);
    assert.notEqual(result.code, null, `the deadline did not end the run:\n${result.output}`);
    assert.notEqual(result.code, 0, result.output);
    // Node 20 cancels the file at its timeout; Node 22 and later cancel the test, and the open socket keeps the
    // file's process alive until the deadline.
    assert.match(result.output, /timed out after 1000ms|outlasted its deadline of 6 s/);
    assert.ok(result.ms < 20_000, `ended in ${result.ms} ms`);
  } finally {
    remove();
  }
});

test('a unit run of many files side by side reports every result, where --test-force-exit loses some', async () => {
  const FILES = 24;
  const TESTS = 200;
  const files: Record<string, string> = {};
  for (let f = 0; f < FILES; f++) {
    const lines = ["const { test } = require('node:test');"];
    // Long names: the loss shows once a file's report outgrows what its process flushes before it is ended.
    for (let t = 0; t < TESTS; t++)
      lines.push(`test('file ${f} test ${t} ${'of a report of some size '.repeat(3)}', () => {});`);
    files[`f${String(f).padStart(2, '0')}.test.js`] = lines.join('\n');
  }
  const reported = (output: string) => Number(/^\S+ tests (\d+)$/m.exec(output)?.[1]);
  const { paths, remove } = scratchFiles(files);
  try {
    const result = await run(nodeTestArgs(paths, RUN_POLICY.unit), 60_000);
    assert.equal(result.code, 0, result.output.slice(-600));
    assert.equal(reported(result.output), FILES * TESTS, result.output.slice(-600));
    assert.equal(Number(/^\S+ pass (\d+)$/m.exec(result.output)?.[1]), FILES * TESTS);

    // Negative control: the same files force-ended lose results and still exit 0 (tried by hand on Node 20 and
    // 24: 40 such files lost some in each of six runs, 16 files in two of three; so up to three runs here). Should
    // a Node fix that, this fails, and the unit suite may force-end its files again.
    const counts: number[] = [];
    for (let attempt = 0; attempt < 3 && !counts.some((n) => n < FILES * TESTS); attempt++) {
      const forced = await run(nodeTestArgs(paths, { ...RUN_POLICY.unit, forceExit: true }), 60_000);
      assert.equal(forced.code, 0, forced.output.slice(-600));
      counts.push(reported(forced.output));
    }
    assert.ok(
      counts.some((n) => n < FILES * TESTS),
      `force-ended, every run reported all ${FILES * TESTS}: ${counts.join(', ')}`,
    );
  } finally {
    remove();
  }
});
