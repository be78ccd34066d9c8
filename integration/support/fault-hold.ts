/**
 * How a fault test places its fault: the stage runs with a `hold` fault (src/engine/faults.ts), the test waits for
 * the line that proves a task is held at the fault point, strikes (SIGKILL, a broker stop, a cut), and only then
 * releases the task. Nothing is left to timing: a strike that lands "probably inside a transaction" is a race that
 * a slow machine loses.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { HOLD_RELEASE_SIGNAL } from '../../src/engine/faults.js';
import type { StageProcess } from './pipeline.js';

export interface LogLine {
  msg: string;
  partition?: number;
  fault?: { point: string; action: string };
  [field: string]: unknown;
}

/** The stage's pino lines from character `since` of its output on, parsed; anything else is skipped. */
export function parsedLines(stage: StageProcess, since = 0): LogLine[] {
  return stage
    .output()
    .slice(since)
    .split('\n')
    .flatMap((text): LogLine[] => {
      if (!text.startsWith('{')) return [];
      try {
        const line = JSON.parse(text) as { msg?: unknown };
        return typeof line.msg === 'string' ? [line as LogLine] : [];
      } catch {
        // a line still being written
        return [];
      }
    });
}

/**
 * The first line from `since` on that `matches`; throws when the stage exits first or `timeoutMs` passes, with the
 * log's tail, so a test never goes on from a line that did not come.
 */
export async function waitForLine(
  stage: StageProcess,
  what: string,
  matches: (line: LogLine) => boolean,
  timeoutMs: number,
  since = 0,
): Promise<LogLine> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = parsedLines(stage, since).find(matches);
    if (found) return found;
    if (stage.child.exitCode !== null || stage.child.signalCode !== null)
      throw new Error(`stage exited before ${what}:\n${stage.output().slice(-3000)}`);
    if (Date.now() > deadline)
      throw new Error(`no ${what} after ${timeoutMs} ms:\n${stage.output().slice(-3000)}`);
    await sleep(20);
  }
}

export interface Held {
  point: string;
  partition: number;
  /** Where the stage's output stood when the hold was seen: later lines are after the hold. */
  mark: number;
}

/**
 * Waits until a task of the stage is held by a `hold` fault. The line is written synchronously before the hold
 * begins, so once it is seen the task is at its point and stays there until `release`.
 */
export async function waitUntilHeld(stage: StageProcess, timeoutMs = 60_000, since = 0): Promise<Held> {
  const line = await waitForLine(
    stage,
    'task held at its fault point',
    (l) => l.msg === 'injecting fault' && l.fault?.action === 'hold',
    timeoutMs,
    since,
  );
  return { point: line.fault?.point ?? '', partition: line.partition ?? -1, mark: stage.output().length };
}

/** Lets every task the stage holds go on (a SIGSTOPped stage gets it when continued). */
export function release(stage: StageProcess): void {
  stage.child.kill(HOLD_RELEASE_SIGNAL);
}

/** Waits until the held partition's transaction has failed, as the stage logs it, after `held`. */
export async function waitForHeldTransactionFailure(
  stage: StageProcess,
  held: Held,
  timeoutMs = 90_000,
): Promise<LogLine> {
  return waitForLine(
    stage,
    `a failed transaction on held partition ${held.partition}`,
    (l) => l.msg.startsWith('transaction failed while') && l.partition === held.partition,
    timeoutMs,
    held.mark,
  );
}
