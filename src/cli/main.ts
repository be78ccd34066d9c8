#!/usr/bin/env node
/**
 * The eos-rollup command: decides every exit code, through exitProcess (./exit.ts), the one process.exit call
 * site. Every failure ends with exit code non-zero and a one-line reason on stderr.
 */
import { CONFIG_VARIABLES } from '../config/config.js';
import { closest } from '../config/suggest.js';
import { StageError } from '../errors/errors.js';
import { inventoryCommand } from './commands/inventory.js';
import { produceCommand } from './commands/produce.js';
import { quarantineCommand } from './commands/quarantine.js';
import { auditCommand } from './commands/audit.js';
import { dlqCommand } from './commands/dlq.js';
import { lagCommand } from './commands/lag.js';
import { runCommand } from './commands/run.js';
import { topicsCommand } from './commands/topics.js';
import { UsageError } from './arguments.js';
import { configCommand } from './commands/config.js';
import { resetCommand } from './commands/reset.js';
import { CommandError, EXIT, exitProcess } from './exit.js';
import { packageVersion } from './version.js';

interface Command {
  summary: string;
  run: (args: string[]) => Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  run: { summary: 'run the stage (configuration from the environment; see --help)', run: runWithArgs },
  produce: {
    summary: 'write generated ServerMetric records, optionally with poison pills, to INPUT_TOPIC (--help)',
    run: produceCommand,
  },
  inventory: {
    summary: 'load <file> (JSON or CSV) or --delete <host> on INVENTORY_TOPIC',
    run: inventoryCommand,
  },
  topics: {
    summary: 'create [--partitions N]: create INPUT_TOPIC and the compacted INVENTORY_TOPIC',
    run: topicsCommand,
  },
  audit: {
    summary: 'prove exactly-once: recompute every rollup from the input and report violations (--help)',
    run: auditCommand,
  },
  lag: {
    summary:
      "the group's lag per partition (records, seconds, owner) and a Burrow status over a window (--help)",
    run: lagCommand,
  },
  dlq: {
    summary:
      'inspect: dead letters by reason, decoded; replay --reason r: send them back to the input once (--help)',
    run: dlqCommand,
  },
  quarantine: {
    summary:
      'status; dead-letter|skip --partition n: resolve a partition the crash-loop guard paused (stage stopped; --help)',
    run: quarantineCommand,
  },
  config: {
    summary: 'check: settings, broker, registry, topics, ACLs; print: effective settings',
    run: configCommand,
  },
  reset: {
    summary: "rewind the group's input offsets and delete its changelog and attempts topics (--help)",
    run: resetCommand,
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const commands = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  const variables = CONFIG_VARIABLES.map(
    (v) => `  ${v.name}${v.default === undefined ? '' : ` [${v.default}]`}\n      ${v.description}`,
  );
  return [
    `eos-rollup ${packageVersion()}`,
    '',
    'usage: eos-rollup <command> [options]',
    '',
    'commands:',
    ...commands,
    '',
    'environment:',
    ...variables,
  ].join('\n');
}

/**
 * `run` takes no arguments: its settings are the environment. `run --help` must never start the stage (with
 * KAFKA_BROKERS set it would join the production group), and a stray argument is a mistake, not something to
 * ignore.
 */
async function runWithArgs(args: string[]): Promise<number> {
  if (args.some((arg) => arg === '--help' || arg === '-h')) {
    console.log(
      `usage: eos-rollup run\n\nRuns the stage; every setting comes from the environment.\n\n${usage()}`,
    );
    return EXIT.ok;
  }
  if (args.length > 0) {
    console.error(
      `eos-rollup run: unexpected argument "${args[0]}": run takes no arguments, its settings are environment variables (eos-rollup run --help)`,
    );
    return EXIT.usage;
  }
  return runCommand();
}

function reasonOf(error: unknown): string {
  if (error instanceof Error) return error.message.split('\n')[0] ?? error.name;
  return String(error);
}

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (!name) {
    console.error(usage());
    return EXIT.usage;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return EXIT.ok;
  }
  if (name === '--version' || name === '-V') {
    console.log(packageVersion());
    return EXIT.ok;
  }
  const command = COMMANDS[name];
  if (!command) {
    const meant = closest(name, Object.keys(COMMANDS));
    const hint = meant ? ` (did you mean "${meant}"?)` : '';
    console.error(
      `eos-rollup: unknown command "${name}"${hint}; commands: ${Object.keys(COMMANDS).join(', ')}\n\n${usage()}`,
    );
    return EXIT.usage;
  }
  return command.run(args);
}

main(process.argv.slice(2)).then(
  (code) => {
    exitProcess(code);
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      console.error(error.describe());
      exitProcess(error.exitCode);
    }
    const exitCode =
      error instanceof CommandError
        ? error.exitCode
        : error instanceof StageError && error.kind === 'config'
          ? EXIT.config
          : EXIT.failure;
    console.error(`eos-rollup: ${reasonOf(error)}`);
    exitProcess(exitCode);
  },
);
