/**
 * The crash-loop guard's policy as a plain function: what the processing-attempts journal's last entry says about
 * the next attempt, one decision per test, then a whole crash loop walked through entry by entry.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  CRASHES_BEFORE_ISOLATION,
  MAX_PROCESSING_ATTEMPTS,
  attemptEntry,
  planAttempt,
  type AttemptPlan,
} from '../../src/engine/attempt-policy.js';
import type { AttemptEntry } from '../../src/engine/ports.js';

const normal = (offset: bigint, attempts: number, isolateUntil: bigint): AttemptEntry => ({
  offset,
  attempts,
  isolated: false,
  isolateUntil,
});
const isolated = (offset: bigint, attempts: number, isolateUntil: bigint): AttemptEntry => ({
  offset,
  attempts,
  isolated: true,
  isolateUntil,
});

test('without an entry, processing is normal and the attempt is journaled with the range its first transaction covers', () => {
  const plan = planAttempt(undefined, 100n);
  assert.deepEqual(plan, { mode: 'normal' });
  assert.deepEqual(attemptEntry(undefined, 100n, plan, 150n), normal(100n, 1, 150n));
});

test('an entry at another offset is an attempt that committed past it: it does not count', () => {
  const last = normal(40n, 1, 90n);
  assert.deepEqual(planAttempt(last, 100n), { mode: 'normal' });
  assert.deepEqual(attemptEntry(last, 100n, { mode: 'normal' }, 150n), normal(100n, 1, 150n));
});

test('an attempt that died once at the same offset is made again whole, counted; after two deaths there the next one isolates the range', () => {
  assert.equal(CRASHES_BEFORE_ISOLATION, 2);
  const once = normal(100n, 1, 150n);
  assert.deepEqual(planAttempt(once, 100n), { mode: 'normal' });
  assert.deepEqual(attemptEntry(once, 100n, { mode: 'normal' }, 140n), normal(100n, 2, 150n));
  const twice = normal(100n, 2, 150n);
  const plan = planAttempt(twice, 100n);
  assert.deepEqual(plan, { mode: 'isolated', until: 150n, crashes: 0 });
  assert.deepEqual(attemptEntry(twice, 100n, plan, 101n), isolated(100n, 1, 150n));
});

test('isolation carries on past records that succeeded alone, to the end of the suspected range', () => {
  const last = isolated(120n, 1, 150n);
  assert.deepEqual(planAttempt(last, 121n), { mode: 'isolated', until: 150n, crashes: 0 });
  assert.deepEqual(
    attemptEntry(last, 121n, { mode: 'isolated', until: 150n, crashes: 0 }, 122n),
    isolated(121n, 1, 150n),
  );
  assert.deepEqual(planAttempt(last, 150n), { mode: 'normal' }, 'the range is behind: normal again');
});

test('a record that died alone is tried alone again, counting its crashes', () => {
  const last = isolated(137n, 2, 150n);
  const plan = planAttempt(last, 137n);
  assert.deepEqual(plan, { mode: 'isolated', until: 150n, crashes: 2 });
  assert.deepEqual(attemptEntry(last, 137n, plan, 138n), isolated(137n, 3, 150n));
});

test('a record that died alone MAX_PROCESSING_ATTEMPTS times quarantines its partition by default, and nothing is journaled for it', () => {
  const last = isolated(137n, MAX_PROCESSING_ATTEMPTS, 150n);
  const plan = planAttempt(last, 137n);
  assert.deepEqual(plan, { mode: 'quarantine', until: 150n, crashes: MAX_PROCESSING_ATTEMPTS });
  assert.equal(attemptEntry(last, 137n, plan, 138n), undefined);
  assert.deepEqual(planAttempt(last, 137n, 'quarantine'), plan);
});

test('with ON_PROCESS_CRASH=dead-letter, a record that died alone MAX_PROCESSING_ATTEMPTS times is dead-lettered, and nothing is journaled for it', () => {
  const last = isolated(137n, MAX_PROCESSING_ATTEMPTS, 150n);
  const plan = planAttempt(last, 137n, 'dead-letter');
  assert.deepEqual(plan, { mode: 'dead-letter', until: 150n, crashes: MAX_PROCESSING_ATTEMPTS });
  assert.equal(attemptEntry(last, 137n, plan, 138n), undefined);
  assert.deepEqual(
    planAttempt(last, 138n, 'dead-letter'),
    { mode: 'isolated', until: 150n, crashes: 0 },
    'the rest of the range stays isolated',
  );
});

test('an isolated record processed since (attempts 0) is tried alone again without a crash counted, and its range stays isolated', () => {
  const survived = isolated(120n, 0, 150n);
  assert.deepEqual(planAttempt(survived, 120n), { mode: 'isolated', until: 150n, crashes: 0 });
  assert.deepEqual(
    attemptEntry(survived, 120n, { mode: 'isolated', until: 150n, crashes: 0 }, 121n),
    isolated(120n, 1, 150n),
  );
  assert.deepEqual(planAttempt(survived, 121n), { mode: 'isolated', until: 150n, crashes: 0 });
});

test('an isolated range never ends before the record after the culprit', () => {
  assert.deepEqual(planAttempt(normal(100n, 2, 100n), 100n), { mode: 'isolated', until: 101n, crashes: 0 });
});

test('an entry beyond the offset (offsets reset by an operator) does not count', () => {
  assert.deepEqual(planAttempt(isolated(500n, 2, 550n), 100n), { mode: 'normal' });
});

/**
 * The walk a restarted stage makes when the record at 137 kills the process whenever it is processed: the first
 * process dies after committing up to 100, so it is not suspected; the next two die at 100 (two crashes there);
 * then each process isolates, and the culprit dies alone MAX_PROCESSING_ATTEMPTS times before it is dead-lettered.
 */
test('a whole crash loop ends with the culprit dead-lettered (opted in) after 1 + CRASHES_BEFORE_ISOLATION + MAX_PROCESSING_ATTEMPTS crashes', () => {
  const culprit = 137n;
  const chunk = 50n;
  let journal: AttemptEntry | undefined;
  let committed = 0n;
  let crashes = 0;
  const dead: bigint[] = [];
  for (let processStart = 0; processStart < 10; processStart += 1) {
    let journaled = false;
    let died = false;
    while (committed < 300n && !died) {
      const plan: AttemptPlan = planAttempt(journal, committed, 'dead-letter');
      const end = plan.mode === 'normal' ? committed + chunk : committed + 1n;
      // The mechanism journals a normal attempt once per process, isolated ones record by record.
      if (plan.mode !== 'normal' || !journaled) {
        journal = attemptEntry(journal, committed, plan, end) ?? journal;
        journaled = true;
      }
      if (plan.mode === 'dead-letter') dead.push(committed);
      else if (committed <= culprit && culprit < end) died = true;
      if (!died) committed = end;
    }
    if (died) crashes += 1;
    else break;
  }
  assert.deepEqual(dead, [culprit]);
  assert.equal(crashes, 1 + CRASHES_BEFORE_ISOLATION + MAX_PROCESSING_ATTEMPTS);
  assert.equal(committed, 300n);
});

/**
 * The same crash loop when the committed offset sits on a transaction marker (transactional input): the records
 * are at odd offsets, markers at even ones, and the committed offset is the marker's. The policy is given the
 * first record's offset, as the task gives it, so the culprit matches its own entry and the loop ends; given the
 * committed offset instead, the culprit would never be the offset the entry names and would crash forever.
 */
test('a crash loop whose committed offset sits on a transaction marker ends: the culprit is the first record past it', () => {
  const culprit = 7n;
  let journal: AttemptEntry | undefined;
  let committed = 6n; // the marker before the culprit
  const firstRecord = (from: bigint): bigint => (from % 2n === 0n ? from + 1n : from);
  let crashes = 0;
  let quarantined: bigint | undefined;
  for (let processStart = 0; processStart < 10 && quarantined === undefined; processStart += 1) {
    const at = firstRecord(committed);
    const plan = planAttempt(journal, at);
    if (plan.mode === 'quarantine') {
      quarantined = at;
      break;
    }
    journal = attemptEntry(journal, at, plan, at + 1n) ?? journal;
    if (at === culprit) crashes += 1;
    else committed = at + 1n;
  }
  assert.equal(quarantined, culprit, 'quarantined at the record, not at the marker');
  assert.equal(crashes, CRASHES_BEFORE_ISOLATION + MAX_PROCESSING_ATTEMPTS);
});
