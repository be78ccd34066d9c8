import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  PROGRESS_INTERVAL_MS,
  Progress,
  progressDecision,
  type ProgressStream,
} from '../../src/cli/progress.js';

function terminal(columns = 80): ProgressStream & { written: string[] } {
  const written: string[] = [];
  return {
    isTTY: true,
    columns,
    written,
    write: (text) => {
      written.push(text);
      return true;
    },
  };
}

const TTY_INFO = { stream: terminal(), logLevel: 'info', jsonOutput: false, term: 'xterm-256color' } as const;

test('progress shows on a terminal with the usual log level and human output', () => {
  assert.deepEqual(progressDecision(TTY_INFO), { show: true });
  assert.deepEqual(progressDecision({ ...TTY_INFO, logLevel: 'warn' }), { show: true });
  assert.deepEqual(progressDecision({ ...TTY_INFO, term: undefined }), { show: true });
});

test('progress stays quiet when stderr is not a terminal', () => {
  const piped = { ...terminal(), isTTY: false };
  assert.deepEqual(progressDecision({ ...TTY_INFO, stream: piped }), {
    show: false,
    why: 'stderr is not a terminal',
  });
  const { isTTY: _, ...unknown } = terminal();
  assert.equal(progressDecision({ ...TTY_INFO, stream: unknown }).show, false);
});

test('progress stays quiet when the output is JSON', () => {
  assert.deepEqual(progressDecision({ ...TTY_INFO, jsonOutput: true }), {
    show: false,
    why: 'the output is JSON',
  });
});

test('progress stays quiet when JSON logs go to stderr (debug, trace) or the operator asked for silence', () => {
  assert.deepEqual(progressDecision({ ...TTY_INFO, logLevel: 'debug' }), {
    show: false,
    why: 'LOG_LEVEL=debug writes JSON logs to stderr',
  });
  assert.equal(progressDecision({ ...TTY_INFO, logLevel: 'trace' }).show, false);
  assert.deepEqual(progressDecision({ ...TTY_INFO, logLevel: 'silent' }), {
    show: false,
    why: 'LOG_LEVEL=silent',
  });
});

test('progress stays quiet on a dumb terminal, which cannot redraw a line', () => {
  assert.equal(progressDecision({ ...TTY_INFO, term: 'dumb' }).show, false);
});

test('a shown progress redraws one line at most once per interval and erases it when done', () => {
  let nowMs = 0;
  const stream = terminal();
  const progress = new Progress(stream, () => nowMs);
  let built = 0;
  const line = (text: string) => () => {
    built += 1;
    return text;
  };
  progress.update(line('too early'));
  nowMs = PROGRESS_INTERVAL_MS;
  progress.update(line('first'));
  nowMs += PROGRESS_INTERVAL_MS - 1;
  progress.update(line('rate-limited'));
  nowMs += 1;
  progress.update(line('second'));
  progress.done();
  assert.deepEqual(stream.written, ['\r\x1b[2Kfirst', '\r\x1b[2Ksecond', '\r\x1b[2K']);
  assert.equal(built, 2, 'lines are only formatted when drawn');
});

test('a line wider than the terminal is cut, so it never wraps and leaves a trail', () => {
  let nowMs = 0;
  const stream = terminal(10);
  const progress = new Progress(stream, () => nowMs);
  nowMs = PROGRESS_INTERVAL_MS;
  progress.update(() => 'abcdefghijklmnop');
  assert.deepEqual(stream.written, ['\r\x1b[2Kabcdefgh…']);
});

test('a quiet progress writes nothing, and done() after nothing drawn writes nothing', () => {
  const quiet = new Progress(null, () => 10_000);
  quiet.update(() => 'x');
  quiet.done();
  assert.equal(quiet.isShown, false);
  const stream = terminal();
  const progress = new Progress(stream, () => 0);
  progress.done();
  assert.deepEqual(stream.written, []);
});

test('forCommand applies the decision to the stream it is given', () => {
  const stream = terminal();
  assert.equal(Progress.forCommand({ ...TTY_INFO, stream }).isShown, true);
  assert.equal(Progress.forCommand({ ...TTY_INFO, stream, jsonOutput: true }).isShown, false);
});
