/**
 * Every command and subcommand as an operator meets it: the built executable in a child process. KAFKA_BROKERS
 * and SCHEMA_REGISTRY_URL point at a port nothing listens on, so a command that tried to connect would fail
 * with a connection error (exit 1) instead of what is asserted here.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';

import { repoRoot } from '../../scripts/stack/paths.js';

const MAIN = join(repoRoot(), 'dist', 'src', 'cli', 'main.js');

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string> = {}): Result {
  const result = spawnSync(process.execPath, [MAIN, ...args], {
    encoding: 'utf8',
    timeout: 20_000,
    env: {
      PATH: process.env.PATH,
      KAFKA_BROKERS: '127.0.0.1:1',
      SCHEMA_REGISTRY_URL: 'http://127.0.0.1:1',
      APP_ID: 'cli-test',
      ...env,
    },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function show(args: string[], r: Result): string {
  return `eos-rollup ${args.join(' ')}: exit ${r.status}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
}

/** Every command and subcommand, with the first words of its usage. */
const COMMANDS: [string[], RegExp][] = [
  [['produce'], /usage: eos-rollup produce/],
  [['inventory'], /usage: eos-rollup inventory/],
  [['topics'], /usage: eos-rollup topics create/],
  [['topics', 'create'], /usage: eos-rollup topics create/],
  [['audit'], /usage: eos-rollup audit/],
  [['lag'], /usage: eos-rollup lag/],
  [['dlq'], /usage: eos-rollup dlq inspect/],
  [['dlq', 'inspect'], /usage: eos-rollup dlq inspect/],
  [['dlq', 'replay'], /usage: eos-rollup dlq inspect/],
  [['config'], /usage: eos-rollup config check/],
  [['config', 'check'], /usage: eos-rollup config check/],
  [['config', 'print'], /usage: eos-rollup config check/],
  [['reset'], /usage: eos-rollup reset/],
  [['quarantine'], /usage: eos-rollup quarantine/],
  [['quarantine', 'dead-letter'], /usage: eos-rollup quarantine/],
];

test('--help and -h on every command and subcommand print its usage on stdout, exit 0, and connect nowhere', () => {
  for (const [words, usage] of COMMANDS) {
    for (const flag of ['--help', '-h']) {
      const args = [...words, flag];
      const r = cli(args);
      assert.equal(r.status, 0, show(args, r));
      assert.match(r.stdout, usage, show(args, r));
      assert.equal(r.stderr, '', show(args, r));
    }
  }
});

/** Asserts the shape of a usage error: exit 2, nothing on stdout, the problem line first, then the usage. */
function assertUsageError(args: string[], problem: RegExp, usage: RegExp): void {
  const r = cli(args);
  assert.equal(r.status, 2, show(args, r));
  assert.equal(r.stdout, '', show(args, r));
  const [first, ...rest] = r.stderr.split('\n');
  assert.match(first ?? '', problem, show(args, r));
  assert.match(rest.join('\n'), usage, show(args, r));
}

test('an unknown flag on every command is a usage error with the usage on stderr', () => {
  for (const [words, usage] of COMMANDS) {
    const needsSubcommand = ['inventory', 'topics', 'dlq', 'config'].includes(words.join(' '));
    if (needsSubcommand) continue;
    assertUsageError([...words, '--bogus'], /unknown option --bogus/, usage);
  }
});

test('a near-miss flag gets a "did you mean"', () => {
  const cases: [string[], string, RegExp][] = [
    [['produce', '--rat', '5'], '--rate', /usage: eos-rollup produce/],
    [['produce', '--poison-ration', '0.1'], '--poison-ratio', /usage: eos-rollup produce/],
    [['inventory', '--delet', 'h'], '--delete', /usage: eos-rollup inventory/],
    [['topics', 'create', '--partition', '3'], '--partitions', /usage: eos-rollup topics/],
    [['audit', '--jsno'], '--json', /usage: eos-rollup audit/],
    [['lag', '--sample', '3'], '--samples', /usage: eos-rollup lag/],
    [['dlq', 'inspect', '--reasn', 'late'], '--reason', /usage: eos-rollup dlq/],
    [['dlq', 'replay', '--dryrun'], '--dry-run', /usage: eos-rollup dlq/],
    [['config', 'print', '--jsn'], '--json', /usage: eos-rollup config/],
    [['reset', '--dry-rn'], '--dry-run', /usage: eos-rollup reset/],
  ];
  for (const [args, meant, usage] of cases) {
    assertUsageError(args, new RegExp(`unknown option --\\S+ \\(did you mean ${meant}\\?\\)`), usage);
  }
});

test('no subcommand, or a near miss of one, is a usage error on stderr with a "did you mean"', () => {
  assertUsageError(
    ['dlq'],
    /^eos-rollup dlq: missing subcommand: inspect or replay/,
    /usage: eos-rollup dlq/,
  );
  assertUsageError(['inventory'], /^eos-rollup inventory: nothing to do/, /usage: eos-rollup inventory/);
  assertUsageError(['topics'], /^eos-rollup topics: missing subcommand: create/, /usage: eos-rollup topics/);
  assertUsageError(
    ['config'],
    /^eos-rollup config: missing subcommand: check or print/,
    /usage: eos-rollup config/,
  );
  assertUsageError(
    ['dlq', 'inspct'],
    /unknown subcommand "inspct" \(did you mean "inspect"\?\)/,
    /usage: eos-rollup dlq/,
  );
  assertUsageError(
    ['dlq', 'rplay'],
    /unknown subcommand "rplay" \(did you mean "replay"\?\)/,
    /usage: eos-rollup dlq/,
  );
  assertUsageError(
    ['topics', 'craete'],
    /unknown subcommand "craete" \(did you mean "create"\?\)/,
    /usage: eos-rollup topics/,
  );
  assertUsageError(
    ['inventory', 'lod', 'f.json'],
    /unknown subcommand "lod" \(did you mean "load"\?\)/,
    /usage: eos-rollup inventory/,
  );
  assertUsageError(
    ['config', 'chek'],
    /unknown subcommand "chek" \(did you mean "check"\?\)/,
    /usage: eos-rollup config/,
  );
  assertUsageError(
    ['config', 'prnt'],
    /unknown subcommand "prnt" \(did you mean "print"\?\)/,
    /usage: eos-rollup config/,
  );
});

test('produce --rate -1 says what is wrong with the value', () => {
  assertUsageError(
    ['produce', '--rate', '-1'],
    /^eos-rollup produce: --rate "-1" is not allowed: expected a number from 0 to 1000000$/,
    /usage: eos-rollup produce/,
  );
});

test('a missing value, a bad number, a value for a switch and an extra argument are usage errors', () => {
  assertUsageError(['produce', '--count'], /--count needs a value/, /usage: eos-rollup produce/);
  assertUsageError(
    ['lag', '--group', '--json'],
    /--group needs a value \(got the option --json\)/,
    /usage: eos-rollup lag/,
  );
  assertUsageError(
    ['dlq', 'inspect', '--limit', 'many'],
    /--limit "many" is not allowed/,
    /usage: eos-rollup dlq/,
  );
  assertUsageError(
    ['topics', 'create', '--partitions', '0'],
    /--partitions "0" is not allowed/,
    /usage: eos-rollup topics/,
  );
  assertUsageError(
    ['audit', '--settle-ms', '1.5'],
    /--settle-ms "1.5" is not allowed/,
    /usage: eos-rollup audit/,
  );
  assertUsageError(
    ['lag', '--samples', '1'],
    /--samples "1" is not allowed: expected an integer from 2 to 1000/,
    /usage: eos-rollup lag/,
  );
  assertUsageError(['audit', '--json=yes'], /--json takes no value/, /usage: eos-rollup audit/);
  assertUsageError(['produce', 'extra'], /unexpected argument "extra"/, /usage: eos-rollup produce/);
  assertUsageError(['topics', 'create', 'now'], /unexpected argument "now"/, /usage: eos-rollup topics/);
  assertUsageError(['inventory', 'load'], /load needs a <file>/, /usage: eos-rollup inventory/);
  assertUsageError(['config', 'check', 'extra'], /unexpected argument "extra"/, /usage: eos-rollup config/);
  assertUsageError(['reset', '--to-datetime'], /--to-datetime needs a value/, /usage: eos-rollup reset/);
  assertUsageError(
    ['reset', '--to-datetime', 'yesterday'],
    /--to-datetime "yesterday" is not allowed/,
    /usage: eos-rollup reset/,
  );
  assertUsageError(
    ['reset', '--to-earliest', '--to-datetime', '2026-11-25T12:00:00Z'],
    /--to-earliest and --to-datetime exclude each other/,
    /usage: eos-rollup reset/,
  );
  assertUsageError(['dlq', 'replay'], /dlq replay needs --reason/, /usage: eos-rollup dlq/);
});

test('reset without --yes on a stdin that is not a terminal refuses before connecting', () => {
  assertUsageError(['reset'], /stdin is not a terminal.*--yes/, /usage: eos-rollup reset/);
});

test('config print shows every setting with its default in table order, secrets redacted', () => {
  const r = cli(['config', 'print'], {
    SCHEMA_REGISTRY_USERNAME: 'ops',
    SCHEMA_REGISTRY_PASSWORD: 'hunter2-secret',
    WINDOW_MS: '30000',
  });
  assert.equal(r.status, 0, show(['config', 'print'], r));
  assert.doesNotMatch(r.stdout + r.stderr, /hunter2-secret/);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines[0], 'KAFKA_BROKERS=127.0.0.1:1');
  assert.ok(lines.includes('WINDOW_MS=30000'));
  assert.ok(lines.includes('GRACE_MS=10000'), 'a default is shown');
  assert.ok(lines.includes('SCHEMA_REGISTRY_PASSWORD=[redacted]'));
  const json = cli(['config', 'print', '--json'], {
    SCHEMA_REGISTRY_PASSWORD: 'hunter2-secret',
    SCHEMA_REGISTRY_USERNAME: 'ops',
  });
  assert.equal(json.status, 0, show(['config', 'print', '--json'], json));
  const settings = JSON.parse(json.stdout) as Record<string, string>;
  assert.deepEqual(
    Object.keys(settings),
    lines.map((l) => l.slice(0, l.indexOf('='))),
  );
  assert.equal(settings.SCHEMA_REGISTRY_PASSWORD, '[redacted]');
});

test('config check with bad settings prints one line per problem naming its variable and exits 3', () => {
  const r = cli(['config', 'check'], {
    APP_ID: '',
    TRANSACTION_TIMEOUT_MS: 'soon',
    WINDOW_SIZE_MS: '5',
    CONFIG_STRICT: 'true',
  });
  assert.equal(r.status, 3, show(['config', 'check'], r));
  const problems = r.stdout.split('\n').filter((l) => l.startsWith('PROBLEM'));
  assert.equal(problems.length, 3, r.stdout);
  assert.match(problems[0] ?? '', /APP_ID is required/);
  assert.match(problems[1] ?? '', /TRANSACTION_TIMEOUT_MS="soon" is not allowed/);
  assert.match(problems[2] ?? '', /WINDOW_SIZE_MS .*did you mean WINDOW_MS/);
});

test('config check warns about a misspelled variable unless CONFIG_STRICT, and names KAFKA_BROKERS when unreachable', () => {
  const r = cli(['config', 'check'], { WINDOW_SIZE_MS: '5' });
  assert.equal(r.status, 1, show(['config', 'check'], r));
  assert.match(r.stdout, /^warning settings: WINDOW_SIZE_MS .*did you mean WINDOW_MS/m);
  assert.match(r.stdout, /^ok {6}settings/m);
  assert.match(r.stdout, /^PROBLEM broker: .*KAFKA_BROKERS/m);
  assert.match(r.stdout, /^PROBLEM registry: .*SCHEMA_REGISTRY_URL/m);
});

test('quarantine: an unknown action gets a "did you mean", and dead-letter or skip need --partition', () => {
  assertUsageError(['quarantine', 'statu'], /did you mean "status"/, /usage: eos-rollup quarantine/);
  assertUsageError(
    ['quarantine', 'skip'],
    /--partition is required with skip/,
    /usage: eos-rollup quarantine/,
  );
  assertUsageError(
    ['quarantine', 'dead-letter', '--partition', '-1'],
    /--partition "-1" is not allowed/,
    /usage: eos-rollup quarantine/,
  );
});
