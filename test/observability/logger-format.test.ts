import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import pino from 'pino';

import { prettyOn } from '../../src/cli/command-logger.js';
import { REDACT_PATHS, createLogger, prettyLine } from '../../src/observability/logger.js';

function written(
  pretty: boolean,
  secrets: string[] = [],
): { logger: ReturnType<typeof createLogger>; out: string[] } {
  const out: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      out.push(chunk.toString());
      done();
    },
  });
  return { logger: createLogger({ level: 'info', pretty, secrets }, sink), out };
}

test('JSON lines carry the level by name, not by pino number', () => {
  const { logger, out } = written(false);
  logger.warn({ partition: 3 }, 'something to look at');
  const line = JSON.parse(out.join('')) as Record<string, unknown>;
  assert.equal(line.level, 'warn');
  assert.equal(line.msg, 'something to look at');
  assert.equal(line.partition, 3);
});

test('pretty lines read as time, level, message and details, still redacted', () => {
  const { logger, out } = written(true, ['hunter2-secret']);
  logger.error({ partition: 3, err: 'auth with hunter2-secret failed' }, 'task failed');
  const line = out.join('');
  assert.match(
    line,
    /^\d\d:\d\d:\d\d\.\d{3} ERROR task failed partition=3 err=auth with \[redacted\] failed\n$/,
  );
});

test('a line that is not JSON passes through the pretty renderer untouched', () => {
  assert.equal(prettyLine('plain text\n'), 'plain text\n');
});

test('LOG_FORMAT=auto is pretty only on a terminal', () => {
  assert.equal(prettyOn('auto', { isTTY: true }), true);
  assert.equal(prettyOn('auto', {}), false);
  assert.equal(prettyOn('json', { isTTY: true }), false);
  assert.equal(prettyOn('pretty', {}), true);
});

test('binary fields (kafkajs request payloads) are logged as their size, and logging them does not throw', () => {
  // Pino's wildcard redaction threw on a Buffer at any of these depths, and the throw crashed kafkajs's consumer.
  const { logger, out } = written(false);
  const payload = Buffer.from('abcdef');
  const fields = {
    top: payload,
    kafkajs: { request: { payload, view: new Uint8Array(3) }, batches: [{ key: Buffer.alloc(2) }], n: 1 },
  };
  logger.info(fields, 'with bytes');
  const line = JSON.parse(out.join('')) as Record<string, unknown>;
  assert.equal(line.top, '[6 bytes]');
  assert.deepEqual(line.kafkajs, {
    request: { payload: '[6 bytes]', view: '[3 bytes]' },
    batches: [{ key: '[2 bytes]' }],
    n: 1,
  });
  assert.equal(fields.kafkajs.request.payload, payload, "the caller's object is not changed");
});

test('negative control: the same fields through pino with the same redaction but no binary formatter throw', () => {
  const bare = pino(
    { redact: { paths: REDACT_PATHS } },
    new Writable({
      write: (_c, _e, done) => {
        done();
      },
    }),
  );
  assert.throws(() => {
    bare.info({ kafkajs: { payload: Buffer.from('x') } }, 'with bytes');
  }, /incompatible receiver/);
});
