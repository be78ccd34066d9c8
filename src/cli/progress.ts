/**
 * Progress of long operator commands (produce, audit, dlq replay) on a terminal: one status line on stderr,
 * redrawn in place at most a few times a second, erased when the command finishes (its summary goes to stdout).
 *
 * It stays silent whenever a line redrawn with carriage returns would be noise rather than help:
 * - stderr is not a terminal (redirected to a file, a pipe, a CI log, a container log collector);
 * - the command prints JSON (`--json`): its caller is a program;
 * - LOG_LEVEL is debug or trace: the command's JSON log lines go to stderr too and would be torn by redraws;
 * - LOG_LEVEL is silent: the operator asked for no output besides the result;
 * - TERM is `dumb`: the terminal cannot erase a line.
 */
import type { LogLevel } from '../config/config.js';

export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): boolean;
}

export interface ProgressContext {
  stream: ProgressStream;
  logLevel: LogLevel;
  jsonOutput: boolean;
  term: string | undefined;
}

export type ProgressDecision = { show: true } | { show: false; why: string };

export function progressDecision(context: ProgressContext): ProgressDecision {
  if (context.stream.isTTY !== true) return { show: false, why: 'stderr is not a terminal' };
  if (context.jsonOutput) return { show: false, why: 'the output is JSON' };
  if (context.logLevel === 'debug' || context.logLevel === 'trace')
    return { show: false, why: `LOG_LEVEL=${context.logLevel} writes JSON logs to stderr` };
  if (context.logLevel === 'silent') return { show: false, why: 'LOG_LEVEL=silent' };
  if (context.term === 'dumb') return { show: false, why: 'TERM=dumb cannot redraw a line' };
  return { show: true };
}

/** Redraws at most this often: fast enough to look alive, slow enough to cost nothing. */
export const PROGRESS_INTERVAL_MS = 250;
const ERASE_LINE = '\r\x1b[2K';

export class Progress {
  private lastDrawMs: number;
  private hasDrawn = false;

  /** Use `Progress.forCommand`; a quiet Progress accepts updates and writes nothing. */
  constructor(
    private readonly stream: ProgressStream | null,
    private readonly now: () => number = Date.now,
    private readonly intervalMs: number = PROGRESS_INTERVAL_MS,
  ) {
    // An operation shorter than one interval never draws: no flicker for quick commands.
    this.lastDrawMs = now();
  }

  static forCommand(context: Omit<ProgressContext, 'stream'> & { stream?: ProgressStream }): Progress {
    const stream = context.stream ?? process.stderr;
    return new Progress(progressDecision({ ...context, stream }).show ? stream : null);
  }

  get isShown(): boolean {
    return this.stream !== null;
  }

  /** `text` is only built when the line is due, so callers may format freely. */
  update(text: () => string): void {
    if (this.stream === null) return;
    const nowMs = this.now();
    if (nowMs - this.lastDrawMs < this.intervalMs) return;
    this.lastDrawMs = nowMs;
    const width = this.stream.columns ?? 0;
    const line = text();
    this.stream.write(
      ERASE_LINE + (width > 1 && line.length >= width ? `${line.slice(0, width - 2)}…` : line),
    );
    this.hasDrawn = true;
  }

  /** Erases the line, so the command's own output starts on a clean one. */
  done(): void {
    if (this.stream === null || !this.hasDrawn) return;
    this.stream.write(ERASE_LINE);
    this.hasDrawn = false;
  }
}
