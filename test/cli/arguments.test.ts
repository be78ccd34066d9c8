/** The shared parser's rules, in-process: what each kind of mistake becomes, and that --help wins. */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  UsageError,
  dispatchSubcommand,
  numberValue,
  parseCommandArgs,
  type CommandSpec,
} from '../../src/cli/arguments.js';
import { EXIT } from '../../src/cli/exit.js';

const SPEC: CommandSpec = {
  command: 'demo',
  usage: 'usage: eos-rollup demo [--rate <n>] [--json] [--tag <t>]...',
  options: {
    rate: { type: 'string' },
    json: { type: 'boolean' },
    tag: { type: 'string', multiple: true },
  },
  positionals: ['<file>'],
};

function problemOf(args: string[]): string {
  try {
    parseCommandArgs(SPEC, args);
  } catch (error) {
    assert.ok(error instanceof UsageError, String(error));
    assert.equal(error.exitCode, EXIT.usage);
    assert.equal(error.describe(), `eos-rollup demo: ${error.message}\n\n${SPEC.usage}`);
    return error.message;
  }
  assert.fail(`no usage error for ${args.join(' ')}`);
}

test('values, switches, repeated options and positionals are parsed', () => {
  const parsed = parseCommandArgs(SPEC, ['--rate', '5', '--json', '--tag', 'a', '--tag=b', 'f.json']);
  assert.notEqual(parsed, 'help');
  if (parsed === 'help') return;
  assert.deepEqual(parsed.values, { rate: '5', json: true, tag: ['a', 'b'] });
  assert.deepEqual(parsed.positionals, ['f.json']);
});

test('--help or -h anywhere wins over every mistake', () => {
  assert.equal(parseCommandArgs(SPEC, ['--bogus', '--help']), 'help');
  assert.equal(parseCommandArgs(SPEC, ['-h', 'a', 'b', 'c']), 'help');
});

test('each mistake is one line naming it', () => {
  assert.equal(
    problemOf(['--rat', '5']),
    'unknown option --rat (did you mean --rate?); options: --rate, --json, --tag',
  );
  assert.equal(problemOf(['--zzzzzz']), 'unknown option --zzzzzz; options: --rate, --json, --tag');
  assert.equal(problemOf(['--rate']), '--rate needs a value');
  assert.equal(problemOf(['--rate', '--json']), '--rate needs a value (got the option --json)');
  assert.equal(problemOf(['--json=1']), '--json takes no value (got "1")');
  assert.equal(problemOf(['--rate', '1', '--rate', '2']), '--rate is given more than once');
  assert.equal(problemOf(['a', 'json']), 'unexpected argument "json" (did you mean --json?)');
});

test('a negative number is a value, so the range check can say what is wrong with it', () => {
  const parsed = parseCommandArgs(SPEC, ['--rate', '-1']);
  assert.notEqual(parsed, 'help');
  if (parsed === 'help') return;
  assert.equal(parsed.values.rate, '-1');
  assert.throws(
    () => numberValue(SPEC, '--rate', '-1', { min: 0, max: 10, integer: false }),
    /^Error: --rate "-1" is not allowed: expected a number from 0 to 10$/,
  );
  assert.throws(() => numberValue(SPEC, '--rate', '1.5', { min: 0, max: 10, integer: true }), /an integer/);
  assert.equal(numberValue(SPEC, '--rate', '2.5', { min: 0, max: 10, integer: false }), 2.5);
});

test('subcommands: none, a near miss and help', async () => {
  const ran: string[][] = [];
  const sub = {
    spec: { command: 'demo', usage: SPEC.usage },
    run: {
      inspect: (args: string[]) => {
        ran.push(args);
        return Promise.resolve(0);
      },
    },
  };
  await assert.rejects(dispatchSubcommand(sub, []), /^Error: missing subcommand: inspect$/);
  await assert.rejects(
    dispatchSubcommand(sub, ['inspct']),
    /^Error: unknown subcommand "inspct" \(did you mean "inspect"\?\); subcommands: inspect$/,
  );
  assert.equal(await dispatchSubcommand(sub, ['inspect', '--x']), 0);
  assert.deepEqual(ran, [['--x']]);
});
