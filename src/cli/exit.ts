/** Exit codes of the eos-rollup command (README "Operations"). */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  config: 3,
  interrupted: 130,
} as const;

/** A command's failure with the one-line reason printed before exiting. */
export class CommandError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failure,
  ) {
    super(message);
  }
}

/**
 * The one place the process exits: main when a command returns or throws, and a command's signal handler that
 * cannot wait for its command to return (a second signal, a clean stop that took too long).
 */
export function exitProcess(code: number): never {
  process.exit(code);
}
