import assert from 'node:assert/strict';
import { test } from 'node:test';

import { parseSince } from '../../src/ops/time-spec.js';

const NOW = Date.UTC(2026, 10, 25, 12, 0, 0);

test('durations count back from now, in any combination of units', () => {
  assert.equal(parseSince('90s', NOW), NOW - 90_000);
  assert.equal(parseSince('2h', NOW), NOW - 7_200_000);
  assert.equal(parseSince('1h30m', NOW), NOW - 5_400_000);
  assert.equal(parseSince('7d', NOW), NOW - 7 * 86_400_000);
  assert.equal(parseSince('1w', NOW), NOW - 7 * 86_400_000);
  assert.equal(parseSince('250ms', NOW), NOW - 250);
});

test('ISO times need their zone; a date alone is midnight UTC', () => {
  assert.equal(parseSince('2026-11-25T10:00:00Z', NOW), Date.UTC(2026, 10, 25, 10));
  assert.equal(parseSince('2026-11-25T10:00:00.5+01:00', NOW), Date.UTC(2026, 10, 25, 9, 0, 0, 500));
  assert.equal(parseSince('2026-11-25', NOW), Date.UTC(2026, 10, 25));
});

test('a time without a zone, a day that does not exist and anything else are refused with the allowed forms', () => {
  for (const text of [
    '2026-11-25T10:00:00',
    '2026-02-30',
    '2026-02-30T00:00:00Z',
    'yesterday',
    '2 h',
    '',
    '-5m',
  ]) {
    assert.throws(
      () => parseSince(text, NOW),
      /--since .* is not allowed: expected an ISO 8601 time with zone/,
      text,
    );
  }
});
