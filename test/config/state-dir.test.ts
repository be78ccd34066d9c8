/**
 * STATE_DIR must name a writable directory; anything else fails the start as a configuration error naming it,
 * before any connection is made.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

import { runJob } from '../../src/app/run-job.js';
import { loadConfig } from '../../src/config/config.js';
import { checkStateDir } from '../../src/config/state-dir.js';
import { ConfigError } from '../../src/errors/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'eos-rollup-state-dir-'));
after(() => {
  rmSync(dir, { recursive: true, force: true });
});
const file = join(dir, 'a-file');
writeFileSync(file, 'x');

const BASE = {
  KAFKA_BROKERS: '127.0.0.1:1',
  SCHEMA_REGISTRY_URL: 'http://127.0.0.1:1',
  APP_ID: 'state-dir-test',
};

test('STATE_DIR unset means no checkpoints; set, it is recorded as given', () => {
  assert.equal(loadConfig(BASE).stateDir, undefined);
  assert.equal(loadConfig({ ...BASE, STATE_DIR: dir }).stateDir, dir);
});

test('a writable directory passes; a missing path or a file is a ConfigError naming STATE_DIR', () => {
  checkStateDir(dir);
  const problems = (path: string) => {
    try {
      checkStateDir(path);
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      return error.problems;
    }
    return [];
  };
  assert.deepEqual(problems(join(dir, 'missing')), [
    `STATE_DIR=${JSON.stringify(join(dir, 'missing'))} cannot be read (ENOENT): expected a writable directory`,
  ]);
  assert.deepEqual(problems(file), [
    `STATE_DIR=${JSON.stringify(file)} is not a directory: expected a writable directory`,
  ]);
});

test('a job started with a bad STATE_DIR fails at start with a configuration error naming it', async () => {
  await assert.rejects(
    runJob(
      {
        name: 'state-dir-test',
        version: '0',
        processor: () => {
          throw new Error('never built: the start fails before');
        },
      },
      { ...BASE, STATE_DIR: file, LOG_LEVEL: 'silent' },
    ),
    (error: unknown) =>
      error instanceof ConfigError && error.problems.some((p) => p.startsWith('STATE_DIR=')),
  );
});
