import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { FaultInjector, InjectedFault, parseFaultSpecs } from '../../src/engine/faults.js';

test('fault specs parse the point, the trigger, the partition and the action', () => {
  assert.deepEqual(
    parseFaultSpecs('after-send-offsets@3/p1:kill,before-commit@%10:throw,during-commit@2:stall2500'),
    [
      {
        point: 'after-send-offsets',
        nth: 3,
        percent: undefined,
        offset: undefined,
        partition: 1,
        action: 'kill',
        stallMs: 0,
      },
      {
        point: 'before-commit',
        nth: undefined,
        percent: 10,
        offset: undefined,
        partition: undefined,
        action: 'throw',
        stallMs: 0,
      },
      {
        point: 'during-commit',
        nth: 2,
        percent: undefined,
        offset: undefined,
        partition: undefined,
        action: 'stall',
        stallMs: 2500,
      },
    ],
  );
  assert.deepEqual(parseFaultSpecs(undefined), []);
});

test('a malformed fault spec is refused with the allowed form', () => {
  for (const bad of [
    'nowhere@1:kill',
    'before-send@0:kill',
    'before-send@1:explode',
    'before-send@%101:throw',
  ]) {
    assert.throws(() => parseFaultSpecs(bad), /EOS_ROLLUP_FAULT=.*is not allowed: expected <point>@/);
  }
});

test('a fault fires on exactly its n-th hit, and only for its partition', async () => {
  const fired: number[] = [];
  const faults = new FaultInjector(parseFaultSpecs('before-send@2/p1:throw'), (_, partition) =>
    fired.push(partition),
  );
  await faults.hit('before-send', 0);
  await faults.hit('before-send', 0);
  await faults.hit('before-send', 1);
  await assert.rejects(faults.hit('before-send', 1), InjectedFault);
  await faults.hit('before-send', 1);
  assert.deepEqual(fired, [1]);
});

test('a percentage fault fires when the random draw falls under it', async () => {
  const draws = [0.05, 0.5, 0.09];
  const faults = new FaultInjector(
    parseFaultSpecs('after-send@%10:throw'),
    undefined,
    () => draws.shift() ?? 1,
  );
  await assert.rejects(faults.hit('after-send', 0), InjectedFault);
  await faults.hit('after-send', 0);
  await assert.rejects(faults.hit('after-send', 0), InjectedFault);
});

test('an offset trigger fires every time that record is processed, and only for it', () => {
  const faults = new FaultInjector(parseFaultSpecs('process-record@o7/p2:throw'));
  faults.hitSync('process-record', 2, 6n);
  faults.hitSync('process-record', 1, 7n);
  assert.throws(() => {
    faults.hitSync('process-record', 2, 7n);
  }, InjectedFault);
  assert.throws(() => {
    faults.hitSync('process-record', 2, 7n);
  }, InjectedFault);
});
