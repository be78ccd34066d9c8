/**
 * The isolation gate on its own: while one partition's task holds it, another task's waitOpen does not settle;
 * holders follow one another in arrival order without the gate opening in between; the holder itself is never
 * kept waiting.
 */
import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import { test } from 'node:test';

import { OPEN_GATE, ProcessIsolationGate } from '../../src/engine/isolation-gate.js';

/** Lets every pending promise continuation run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i += 1) await tick();
}

test('while a partition holds the gate, another partition cannot pass waitOpen; leaving opens it', async () => {
  const gate = new ProcessIsolationGate();
  const leave = await gate.hold(0);
  let passed = false;
  void gate.waitOpen(1).then(() => (passed = true));
  await settle();
  assert.equal(passed, false, 'partition 1 processed while partition 0 isolated a record');
  await gate.waitOpen(0);
  assert.equal(gate.isOpenFor(1), false, 'closed to another partition, synchronously too');
  assert.equal(gate.isOpenFor(0), true, 'open to its holder');
  leave();
  await settle();
  assert.equal(passed, true);
  assert.equal(gate.isOpenFor(1), true);
});

test('holders follow in arrival order and the gate never opens between them', async () => {
  const gate = new ProcessIsolationGate();
  const order: string[] = [];
  const leave0 = await gate.hold(0);
  const second = gate.hold(1).then((leave) => (order.push('hold 1'), leave));
  const third = gate.hold(2).then((leave) => (order.push('hold 2'), leave));
  void gate.waitOpen(3).then(() => order.push('open for 3'));
  await settle();
  assert.deepEqual(order, []);
  leave0();
  const leave1 = await second;
  await settle();
  assert.deepEqual(order, ['hold 1']);
  leave1();
  leave1(); // leaving twice passes the gate once
  const leave2 = await third;
  await settle();
  assert.deepEqual(order, ['hold 1', 'hold 2']);
  leave2();
  await settle();
  assert.deepEqual(order, ['hold 1', 'hold 2', 'open for 3']);
});

test('the negative control gate never holds anyone back', async () => {
  const leave = await OPEN_GATE.hold(0);
  let passed = false;
  void OPEN_GATE.waitOpen(1).then(() => (passed = true));
  await settle();
  assert.equal(passed, true);
  leave();
});
