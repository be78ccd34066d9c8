import assert from 'node:assert/strict';
import { test } from 'node:test';

import { isWindowClosed, windowCloseTime, windowStartFor, type WindowSpec } from '../../src/domain/window.js';

const W = 60_000;
const spec: WindowSpec = { sizeMs: W, graceMs: 10_000 };
const T0 = Date.UTC(2024, 0, 1, 12, 0, 0);

void test('a timestamp inside a window maps to the epoch-aligned start below it', () => {
  assert.equal(windowStartFor(T0 + 12_345, W), T0);
});

void test('a timestamp exactly on a boundary starts the window at that boundary', () => {
  assert.equal(windowStartFor(T0, W), T0);
  assert.equal(windowStartFor(0, W), 0);
});

void test('the last millisecond before a boundary belongs to the previous window', () => {
  assert.equal(windowStartFor(T0 - 1, W), T0 - W);
  assert.equal(windowStartFor(W - 1, W), 0);
});

void test('negative timestamps round down to the window below, not toward zero', () => {
  assert.equal(windowStartFor(-1, W), -W);
  assert.equal(windowStartFor(-W, W), -W);
  assert.equal(windowStartFor(-W - 1, W), -2 * W);
});

void test('a window closes at start + size + grace', () => {
  assert.equal(windowCloseTime(T0, spec), T0 + 70_000);
});

void test('a window is still open 1 ms before start + size + grace', () => {
  assert.equal(isWindowClosed(T0, spec, T0 + 70_000 - 1), false);
});

void test('a window is closed exactly when stream time reaches start + size + grace', () => {
  assert.equal(isWindowClosed(T0, spec, T0 + 70_000), true);
  assert.equal(isWindowClosed(T0, spec, T0 + 70_001), true);
});

void test('without a stream time no window is closed', () => {
  assert.equal(isWindowClosed(T0, spec, null), false);
});

void test('with zero grace a window closes exactly at its end', () => {
  const noGrace: WindowSpec = { sizeMs: W, graceMs: 0 };
  assert.equal(isWindowClosed(T0, noGrace, T0 + W - 1), false);
  assert.equal(isWindowClosed(T0, noGrace, T0 + W), true);
});
