import { strict as assert } from 'node:assert';
import { after, test } from 'node:test';
import { FaultInjector, InjectedFault, parseFaultSpecs, signalRelease } from '../../src/engine/faults.js';
import { manualRelease } from './fakes.js';

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
    'before-send@1:hold500',
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

test('two specs on one point count their hits separately', async () => {
  const fired: string[] = [];
  const faults = new FaultInjector(parseFaultSpecs('after-send@2:throw,after-send@3:throw'), (spec) =>
    fired.push(`@${spec.nth}`),
  );
  await faults.hit('after-send', 0);
  await assert.rejects(faults.hit('after-send', 0), InjectedFault);
  // The second spec counted hit 2 too, although the first one fired on it: its third is the next one.
  await assert.rejects(faults.hit('after-send', 0), InjectedFault);
  await faults.hit('after-send', 0);
  assert.deepEqual(fired, ['@2', '@3']);
});

test('a hold keeps its task at the point, announced first, until released', async () => {
  const release = manualRelease();
  const events: string[] = [];
  const faults = new FaultInjector(
    parseFaultSpecs('before-commit@2/p0:hold'),
    (spec, partition) => events.push(`${spec.action} p${partition}`),
    Math.random,
    release,
  );
  await faults.hit('before-commit', 0);
  const held = faults.hit('before-commit', 0).then(() => events.push('released'));
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(events, ['hold p0'], 'announced, and still held');
  assert.equal(release.waiting, 1);
  // Other partitions go on meanwhile.
  await faults.hit('before-commit', 1);
  release.release();
  await held;
  assert.deepEqual(events, ['hold p0', 'released']);
});

test('the hold release signal frees every task held when it arrives, and only those', async () => {
  // A signal listener does not keep the event loop alive by itself.
  const alive = setInterval(() => undefined, 1000);
  after(() => {
    clearInterval(alive);
  });
  // Node 24's runner starts its file processes with a diagnostic report on SIGUSR2 turned on; off, so the signals
  // here write no report files into the working directory.
  process.report.reportOnSignal = false;
  const release = signalRelease('SIGUSR2');
  const first = release.wait();
  const second = release.wait();
  process.kill(process.pid, 'SIGUSR2');
  await Promise.all([first, second]);
  let late = false;
  const third = release.wait().then(() => {
    late = true;
  });
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(late, false, 'a task held after the signal waits for the next one');
  process.kill(process.pid, 'SIGUSR2');
  await third;
});

test('no release listener exists without a hold spec', () => {
  const before = process.listenerCount('SIGUSR2');
  new FaultInjector(parseFaultSpecs('before-commit@2:kill,after-send@1:stall10'));
  assert.equal(process.listenerCount('SIGUSR2'), before);
  new FaultInjector(parseFaultSpecs('before-commit@2:hold'));
  assert.equal(process.listenerCount('SIGUSR2'), before + 1);
});
