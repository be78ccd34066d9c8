import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';

import { DeadlineExceeded, settleWithin, valueWithin, within } from '../../src/errors/deadline.js';

const never = new Promise<never>(() => undefined);

test('within gives the value of a promise that settles in time', async () => {
  assert.equal(
    await within(
      sleep(5).then(() => 'done'),
      1000,
      'a short wait',
    ),
    'done',
  );
});

test('within passes on the rejection of a promise that fails in time', async () => {
  await assert.rejects(within(Promise.reject(new Error('refused')), 1000, 'a refusal'), /refused/);
});

test('within rejects a promise that never settles with DeadlineExceeded, naming what was awaited', async () => {
  const started = Date.now();
  await assert.rejects(within(never, 30, 'audit: registry request for schema id 7'), (error: unknown) => {
    assert.ok(error instanceof DeadlineExceeded);
    assert.equal(error.message, 'audit: registry request for schema id 7 took longer than 30 ms');
    return true;
  });
  assert.ok(Date.now() - started >= 25, 'it waited for the deadline');
});

test('valueWithin gives undefined after the deadline, the value before it', async () => {
  assert.equal(await valueWithin(new Promise<number>(() => undefined), 10), undefined);
  assert.equal(await valueWithin(Promise.resolve(3), 1000), 3);
  await assert.rejects(valueWithin(Promise.reject(new Error('lookup failed')), 1000), /lookup failed/);
});

test('settleWithin returns after the deadline for work that hangs, and swallows work that fails', async () => {
  await settleWithin(never, 10);
  await settleWithin(Promise.reject(new Error('disconnect failed')), 1000);
});

test('a settled race leaves no timer behind: the deadline does not keep the process alive', async () => {
  const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  await within(Promise.resolve(1), 60_000, 'instant');
  await valueWithin(Promise.resolve(1), 60_000);
  assert.equal(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length, before);
});
