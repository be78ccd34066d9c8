/**
 * The command line as an operator meets it: the built executable in a child process. KAFKA_BROKERS points at a
 * port nothing listens on, so a command that tried to connect would hang in retries or fail differently.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';

import { repoRoot } from '../../scripts/stack/paths.js';

const MAIN = join(repoRoot(), 'dist', 'src', 'cli', 'main.js');

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [MAIN, ...args], {
    encoding: 'utf8',
    timeout: 20_000,
    env: {
      PATH: process.env.PATH,
      KAFKA_BROKERS: '127.0.0.1:1',
      SCHEMA_REGISTRY_URL: 'http://127.0.0.1:1',
    },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('run --help prints help and exits 0 without starting the stage, even with KAFKA_BROKERS set', () => {
  const { status, stdout, stderr } = cli('run', '--help');
  assert.equal(status, 0, stderr);
  assert.match(stdout, /usage: eos-rollup run/);
  assert.match(stdout, /KAFKA_BROKERS/);
  assert.doesNotMatch(stdout + stderr, /starting eos-rollup/);
});

test('run with an argument is a usage error: exit 2, the reason on stderr, nothing started', () => {
  for (const arg of ['--bogus', 'extra']) {
    const { status, stdout, stderr } = cli('run', arg);
    assert.equal(status, 2, `run ${arg}`);
    assert.match(stderr, new RegExp(`unexpected argument "${arg}"`));
    assert.doesNotMatch(stdout + stderr, /starting eos-rollup/);
  }
});

test('-V and --version print the version', () => {
  for (const flag of ['-V', '--version']) {
    const { status, stdout } = cli(flag);
    assert.equal(status, 0);
    assert.match(stdout.trim(), /^\d+\.\d+\.\d+/);
  }
});

test('an unknown command is a usage error with a suggestion and the usage on stderr', () => {
  const { status, stdout, stderr } = cli('prodce');
  assert.equal(status, 2);
  assert.equal(stdout, '');
  assert.match(stderr, /unknown command "prodce" \(did you mean "produce"\?\)/);
  assert.match(stderr, /usage: eos-rollup <command>/);
});

test('no command at all prints the usage on stderr and exits 2; --help prints it on stdout and exits 0', () => {
  const bare = cli();
  assert.equal(bare.status, 2);
  assert.match(bare.stderr, /usage: eos-rollup <command>/);
  const help = cli('--help');
  assert.equal(help.status, 0);
  assert.match(help.stdout, /usage: eos-rollup <command>/);
});

test('an unreachable broker is one line naming KAFKA_BROKERS, without kafkajs retry chatter', () => {
  const { status, stderr } = cli('topics', 'create');
  assert.equal(status, 1);
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, stderr);
  assert.match(lines[0] ?? '', /ECONNREFUSED 127\.0\.0\.1:1 .*KAFKA_BROKERS/);
});

test('every setting is checked before the first network call: a missing CA file and a bad fault spec fail the start', () => {
  const result = spawnSync(process.execPath, [MAIN, 'run'], {
    encoding: 'utf8',
    timeout: 20_000,
    env: {
      PATH: process.env.PATH,
      KAFKA_BROKERS: '127.0.0.1:1',
      SCHEMA_REGISTRY_URL: 'https://127.0.0.1:1',
      SCHEMA_REGISTRY_CA_FILE: '/nonexistent/ca.pem',
      EOS_ROLLUP_FAULT: 'nowhere@1:kill',
      APP_ID: 'preflight',
      METRICS_PORT: '0',
    },
  });
  assert.equal(result.status, 3, result.stderr);
  assert.match(result.stderr, /SCHEMA_REGISTRY_CA_FILE="\/nonexistent\/ca\.pem" cannot be read/);
  assert.match(result.stderr, /EOS_ROLLUP_FAULT="nowhere@1:kill" is not allowed/);
  assert.doesNotMatch(result.stdout + result.stderr, /ECONNREFUSED|starting eos-rollup/);
});
