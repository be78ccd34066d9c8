/**
 * The one argument parser of every eos-rollup command and subcommand, so they all behave alike: `--help`/`-h`
 * prints the help on stdout (the caller returns 0 before connecting anywhere); a usage error is a
 * {@link UsageError}, printed by main as one line naming the problem followed by the usage on stderr, exit 2;
 * near misses of flags and subcommands get a "did you mean".
 *
 * Built on node:util parseArgs in its lenient token mode and checked here, because its strict mode words some
 * mistakes unhelpfully: `--rate -1` is "argument is ambiguous" rather than a bad value, and an unknown flag
 * comes with advice about `--` instead of the flag that was meant.
 */
import { parseArgs } from 'node:util';
import { closest } from '../config/suggest.js';
import { CommandError, EXIT } from './exit.js';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
}

export interface CommandSpec {
  /** The words after `eos-rollup`, e.g. `dlq inspect`. */
  command: string;
  /** The usage lines, starting with `usage: eos-rollup`. */
  usage: string;
  /** What --help prints after the usage; the usage alone when absent. */
  details?: string;
  options: Readonly<Record<string, OptionSpec>>;
  /** Names of the positional arguments, in order; none by default. */
  positionals?: readonly string[];
}

export type OptionValue = string | boolean | string[] | undefined;

export interface ParsedArgs {
  values: Readonly<Record<string, OptionValue>>;
  positionals: string[];
}

/** A mistake on the command line: exit 2, the problem and then the usage on stderr. */
export class UsageError extends CommandError {
  constructor(
    readonly command: string,
    problem: string,
    readonly usage: string,
  ) {
    super(problem, EXIT.usage);
  }

  /** What main prints on stderr. */
  describe(): string {
    return `eos-rollup ${this.command}: ${this.message}\n\n${this.usage}`;
  }
}

export function usageError(spec: Pick<CommandSpec, 'command' | 'usage'>, problem: string): UsageError {
  return new UsageError(spec.command, problem, spec.usage);
}

export function helpText(spec: Pick<CommandSpec, 'usage' | 'details'>): string {
  return spec.details === undefined ? spec.usage : `${spec.usage}\n\n${spec.details}`;
}

const HELP_OPTION: OptionSpec = { type: 'boolean', short: 'h' };

function flagsOf(options: Readonly<Record<string, OptionSpec>>): string[] {
  return Object.keys(options).map((name) => `--${name}`);
}

/** `-1`, `-0.5`: a value, never a flag, so `--rate -1` reaches the value check. */
function looksNegativeNumber(text: string): boolean {
  return /^-\d/.test(text);
}

/**
 * The parsed arguments, or `'help'` when --help/-h was given anywhere (then nothing else is checked, so help
 * is always reachable). Throws a UsageError for an unknown flag (with "did you mean"), a flag without its
 * value, a value given to a switch, a repeated flag that takes one value, or a positional too many.
 */
export function parseCommandArgs(spec: CommandSpec, args: readonly string[]): ParsedArgs | 'help' {
  const options = { ...spec.options, help: HELP_OPTION };
  const { tokens } = parseArgs({
    args: [...args],
    options,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const isHelp = tokens.some((t) => t.kind === 'option' && t.name === 'help');
  if (isHelp) return 'help';

  const values: Record<string, OptionValue> = {};
  const positionals: string[] = [];
  const known = flagsOf(spec.options);
  for (const token of tokens) {
    if (token.kind === 'option-terminator') continue;
    if (token.kind === 'positional') {
      positionals.push(token.value);
      continue;
    }
    const option = spec.options[token.name];
    if (option === undefined) {
      const meant = closest(token.name, Object.keys(spec.options));
      const hint = meant === undefined ? '' : ` (did you mean --${meant}?)`;
      const choices = known.length === 0 ? 'it takes no options' : `options: ${known.join(', ')}`;
      throw usageError(spec, `unknown option ${token.rawName}${hint}; ${choices}`);
    }
    const flag = `--${token.name}`;
    if (option.type === 'boolean') {
      if (token.value !== undefined) throw usageError(spec, `${flag} takes no value (got "${token.value}")`);
      values[token.name] = true;
      continue;
    }
    const value = token.value;
    const isFlagTakenAsValue =
      value !== undefined && !token.inlineValue && value.startsWith('-') && !looksNegativeNumber(value);
    if (value === undefined || isFlagTakenAsValue) {
      throw usageError(
        spec,
        `${flag} needs a value${isFlagTakenAsValue ? ` (got the option ${value})` : ''}`,
      );
    }
    if (option.multiple === true) {
      const earlier = values[token.name];
      values[token.name] = [...(Array.isArray(earlier) ? earlier : []), value];
    } else {
      if (values[token.name] !== undefined) throw usageError(spec, `${flag} is given more than once`);
      values[token.name] = value;
    }
  }
  const allowed = spec.positionals ?? [];
  if (positionals.length > allowed.length) {
    const extra = positionals[allowed.length] ?? '';
    const meant = extra.startsWith('-') ? undefined : closest(extra, Object.keys(spec.options));
    const hint = meant === undefined ? '' : ` (did you mean --${meant}?)`;
    throw usageError(spec, `unexpected argument "${extra}"${hint}`);
  }
  return { values, positionals };
}

/** The string value of an option, or undefined when absent. */
export function stringOption(parsed: ParsedArgs, name: string): string | undefined {
  const value = parsed.values[name];
  return typeof value === 'string' ? value : undefined;
}

export function booleanOption(parsed: ParsedArgs, name: string): boolean {
  return parsed.values[name] === true;
}

/**
 * A number option's value, checked against its range; the message says what was given and what is allowed,
 * so `--rate -1` reads `--rate "-1" is not allowed: expected a number from 0 to 1000000`.
 */
export function numberValue(
  spec: Pick<CommandSpec, 'command' | 'usage'>,
  flag: string,
  text: string,
  range: { min: number; max: number; integer: boolean },
): number {
  const value = text.trim() === '' ? NaN : Number(text);
  const ok =
    Number.isFinite(value) &&
    value >= range.min &&
    value <= range.max &&
    (!range.integer || Number.isSafeInteger(value));
  if (!ok) {
    const kind = range.integer ? 'an integer' : 'a number';
    throw usageError(
      spec,
      `${flag} ${JSON.stringify(text)} is not allowed: expected ${kind} from ${range.min} to ${range.max}`,
    );
  }
  return value;
}

export interface Subcommands {
  spec: Pick<CommandSpec, 'command' | 'usage' | 'details'>;
  run: Readonly<Record<string, (args: string[]) => Promise<number>>>;
}

/**
 * Runs the subcommand named by the first argument. None at all is a usage error (stderr, exit 2); `--help`,
 * `-h` or `help` prints the help; an unknown one gets a "did you mean".
 */
export async function dispatchSubcommand(sub: Subcommands, args: readonly string[]): Promise<number> {
  const [name, ...rest] = args;
  const names = Object.keys(sub.run);
  if (name === '--help' || name === '-h' || name === 'help') {
    console.log(helpText(sub.spec));
    return EXIT.ok;
  }
  if (name === undefined) throw usageError(sub.spec, `missing subcommand: ${names.join(' or ')}`);
  const run = sub.run[name];
  if (run === undefined) {
    const meant = closest(name, names);
    const hint = meant === undefined ? '' : ` (did you mean "${meant}"?)`;
    throw usageError(sub.spec, `unknown subcommand "${name}"${hint}; subcommands: ${names.join(', ')}`);
  }
  return run(rest);
}
