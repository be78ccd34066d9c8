/**
 * The crash-loop guard's mechanism and the journal's ownership rule, without Kafka: which deaths count as a
 * record's crash (only one while it was being processed alone), and which releases count (only an owner's
 * own, in the journal's order).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { AttemptGuard } from '../../src/engine/attempt-guard.js';
import { currentAttempt, type JournalRecord } from '../../src/engine/attempt-ownership.js';
import { CRASHES_BEFORE_ISOLATION, MAX_PROCESSING_ATTEMPTS } from '../../src/engine/attempt-policy.js';
import type { AttemptJournalPort, JournaledAttempt } from '../../src/engine/ports.js';
import { FakeBroker, silentLogger } from './fakes.js';

const P = 0;

/** skipRelease: the journal drops every release, as the negative control `no-attempt-release` makes it. */
function guard(broker: FakeBroker, owner: string, skipRelease = false): AttemptGuard {
  const journal = skipRelease ? { ...bound(broker), release: () => Promise.resolve() } : broker.journal;
  return new AttemptGuard(journal, P, silentLogger, { owner, onCrash: 'quarantine' });
}

function bound(broker: FakeBroker): AttemptJournalPort {
  return {
    read: (partition) => broker.journal.read(partition),
    write: (partition, attempt) => broker.journal.write(partition, attempt),
    release: (partition, own, restore) => broker.journal.release(partition, own, restore),
  };
}

const entry = (offset: bigint, attempts: number, owner: string, seq = 1): JournaledAttempt => ({
  entry: { offset, attempts, isolated: true, isolateUntil: offset + 10n },
  stamp: { owner, seq },
});

test('a release counts only while the entry it names is current: a late release of an old owner changes nothing', () => {
  const old = entry(5n, 1, 'old');
  const newer = entry(5n, 2, 'new');
  const records: JournalRecord[] = [
    { kind: 'entry', attempt: old },
    { kind: 'entry', attempt: newer },
    { kind: 'release', own: { owner: 'old', seq: 1 }, restore: undefined },
  ];
  assert.deepEqual(currentAttempt(records), newer);
  assert.deepEqual(
    currentAttempt([...records, { kind: 'release', own: { owner: 'new', seq: 1 }, restore: old }]),
    old,
    'the owner of the current entry takes it back',
  );
  assert.equal(currentAttempt([...records, { kind: 'clear' }]), undefined, 'an operator clears it');
  assert.deepEqual(
    currentAttempt([{ kind: 'release', own: { owner: 'x', seq: 3 }, restore: old }]),
    old,
    'a tail that starts with a release whose entry was compacted away starts from its restore',
  );
});

test('through the guard: an old owner closing after the new owner journaled leaves the new entry standing', async () => {
  const broker = new FakeBroker();
  const oldOwner = guard(broker, 'old');
  await oldOwner.load();
  await oldOwner.arm(5n, 8n);
  const newOwner = guard(broker, 'new');
  await newOwner.load();
  await newOwner.arm(5n, 8n); // the old owner's attempt counts as a crash: the second attempt there
  await oldOwner.release(5n); // its session had expired; it learns of the rebalance only now
  assert.deepEqual(broker.journal.entry(P), { offset: 5n, attempts: 2, isolated: false, isolateUntil: 8n });
  assert.deepEqual(
    broker.journal.releases.map((r) => r.applied),
    [false],
  );
});

/** Processes that each die in the commit after processing the record at 0 alone; returns the last plan. */
async function dieAtCommit(broker: FakeBroker, processes: number, skipRelease: boolean): Promise<string> {
  for (let run = 0; run < processes; run += 1) {
    const g = guard(broker, `process-${run}`, skipRelease);
    await g.load();
    const plan = await g.arm(0n, 5n);
    if (plan.mode !== 'normal') await g.processed(0n);
    // SIGKILL in the commit: nothing more runs, no release.
  }
  const survivor = guard(broker, 'survivor', skipRelease);
  await survivor.load();
  return survivor.planAt(0n).mode;
}

test('deaths in the commit, after the record was processed alone, count no crash: the record is processed again, never quarantined', async () => {
  const broker = new FakeBroker();
  assert.equal(
    await dieAtCommit(broker, CRASHES_BEFORE_ISOLATION + MAX_PROCESSING_ATTEMPTS, false),
    'isolated',
  );
  assert.deepEqual(broker.journal.entry(P), { offset: 0n, attempts: 0, isolated: true, isolateUntil: 5n });
});

test('negative control: without the take-back, the same deaths quarantine a record that never crashed anything', async () => {
  const broker = new FakeBroker();
  assert.equal(
    await dieAtCommit(broker, CRASHES_BEFORE_ISOLATION + MAX_PROCESSING_ATTEMPTS, true),
    'quarantine',
  );
});

test('a record that dies while processed alone counts: MAX_PROCESSING_ATTEMPTS such deaths quarantine it', async () => {
  const broker = new FakeBroker();
  for (let run = 0; run < CRASHES_BEFORE_ISOLATION + MAX_PROCESSING_ATTEMPTS; run += 1) {
    const g = guard(broker, `process-${run}`);
    await g.load();
    await g.arm(0n, 5n); // dies in processing: processed() is never reached
  }
  const survivor = guard(broker, 'survivor');
  await survivor.load();
  assert.deepEqual(survivor.planAt(0n), { mode: 'quarantine', until: 5n, crashes: MAX_PROCESSING_ATTEMPTS });
  assert.equal(await survivor.arm(0n, 1n).then((p) => p.mode), 'quarantine');
});

test('a clean close that did not get past the attempt takes it back; one that committed past leaves it', async () => {
  const broker = new FakeBroker();
  const first = guard(broker, 'first');
  await first.load();
  await first.arm(0n, 5n);
  await first.release(0n);
  assert.equal(broker.journal.entry(P), undefined);
  const second = guard(broker, 'second');
  await second.load();
  await second.arm(0n, 5n);
  await second.release(5n);
  assert.deepEqual(broker.journal.entry(P), { offset: 0n, attempts: 1, isolated: false, isolateUntil: 5n });
});

test('a retry in the same task after the take-back journals the record again, with the same count', async () => {
  const broker = new FakeBroker();
  const g = guard(broker, 'one');
  await g.load();
  await broker.journal.write(P, entry(3n, 2, 'earlier'));
  const h = guard(broker, 'two');
  await h.load();
  assert.equal((await h.arm(3n, 4n)).mode, 'isolated');
  await h.processed(3n);
  assert.equal(broker.journal.entry(P)?.attempts, 2, 'taken back to the crashes before');
  await h.arm(3n, 4n); // the commit failed (retriable); processing again must be guarded again
  assert.equal(broker.journal.entry(P)?.attempts, 3);
});
