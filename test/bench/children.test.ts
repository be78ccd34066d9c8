import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { Child } from '../../bench/lib/children.js';

void test('every stdout line of a child, the last one included, is seen by the time its exit settles, and logged', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-child-'));
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const lines: string[] = [];
  const logFile = join(dir, 'child.log');
  // Several pipe buffers' worth written synchronously, the last line right before exiting, as R0 prints its
  // figures: the process is gone while the pipe still holds its last lines.
  const script =
    "const fs = require('fs'); for (let i = 0; i < 2000; i++) fs.writeSync(1, 'line ' + i + ' ' + 'x'.repeat(200) + '\\n'); fs.writeSync(1, 'last\\n')";
  const child = Child.start('echo', process.execPath, ['-e', script], {
    logFile,
    onLine: (line) => lines.push(line),
  });
  const exit = await child.exited;
  assert.deepEqual(exit, { code: 0, signal: null });
  assert.equal(child.isRunning, false);
  assert.equal(lines.length, 2001);
  assert.equal(lines.at(-1), 'last');
  assert.ok(lines[0]?.startsWith('line 0 '));
  await child.logClosed;
  assert.ok(readFileSync(logFile, 'utf8').trimEnd().endsWith('last'));
});

void test('stop() sends SIGTERM and, when it is ignored, SIGKILL after the grace period', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-child-'));
  try {
    const script = "process.on('SIGTERM', () => {}); console.log('ready'); setInterval(() => {}, 1000)";
    let ready: () => void = () => undefined;
    const isReady = new Promise<void>((resolve) => {
      ready = resolve;
    });
    const child = Child.start('stubborn', process.execPath, ['-e', script], {
      logFile: join(dir, 'child.log'),
      onLine: () => {
        ready();
      },
    });
    await isReady;
    const started = Date.now();
    const exit = await child.stop('SIGTERM', 300);
    assert.equal(exit.signal, 'SIGKILL');
    assert.ok(Date.now() - started >= 300);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
