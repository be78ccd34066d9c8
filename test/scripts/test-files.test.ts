/**
 * The runner's safety net, on the Node that runs this suite: a test file that waits forever on a socket it never
 * closes is cancelled within its timeout and its process ends, so a run fails loudly instead of standing still.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { nodeTestArgs } from '../../scripts/test-files.js';

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

test('a test file that never ends is cancelled after the timeout, and the run fails with the reason', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'eos-rollup-runner-'));
  try {
    const file = join(dir, 'hangs.test.js');
    writeFileSync(file, HANGING_FILE);
    const result = await run(nodeTestArgs([file], 1, 1000), 30_000);
    assert.notEqual(result.code, 0, result.output);
    assert.notEqual(result.code, null, `the runner itself hung and was killed:\n${result.output}`);
    assert.match(result.output, /timed out after 1000ms/);
    assert.ok(result.ms < 15_000, `ended in ${result.ms} ms`);

    // Negative control: without the runner's timeout the same file is still running when the guard kills it.
    const unbounded = nodeTestArgs([file], 1, 1000).filter((a) => !a.startsWith('--test-timeout'));
    const control = await run(unbounded, 5000);
    assert.equal(control.code, null, `without a timeout the file ended on its own:\n${control.output}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
