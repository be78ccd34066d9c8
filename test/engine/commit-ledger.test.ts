/** The commit ledger: what a task leaves in doubt, and which failure of a commit leaves anything in doubt. */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { CommitLedger, recordIfInDoubt } from '../../src/engine/commit-ledger.js';
import {
  CommitOutcomeUnknownError,
  FatalError,
  FencedError,
  RetriableError,
} from '../../src/errors/errors.js';
import { silentLogger } from './fakes.js';

const commit = (attemptId: string, fromOffset: bigint, endOffset: bigint) => ({
  attemptId,
  fromOffset,
  endOffset,
});

void test('a recorded commit is taken once, by its own partition only', () => {
  const ledger = new CommitLedger();
  ledger.record(3, commit('a#1', 0n, 10n));
  assert.equal(ledger.take(2), undefined, 'another partition has nothing to settle');
  assert.deepEqual(ledger.take(3), commit('a#1', 0n, 10n));
  assert.equal(ledger.take(3), undefined, 'settled once: the next initialization finds nothing');
  assert.deepEqual(ledger.partitions, []);
});

void test('a later commit in doubt of the same partition replaces the earlier one', () => {
  const ledger = new CommitLedger();
  ledger.record(1, commit('a#1', 0n, 10n));
  ledger.record(1, commit('b#1', 0n, 12n));
  ledger.record(4, commit('c#1', 5n, 6n));
  assert.deepEqual(ledger.partitions, [1, 4]);
  assert.equal(ledger.take(1)?.attemptId, 'b#1');
});

void test('what a task records is a copy: changing the caller’s object afterwards changes nothing', () => {
  const ledger = new CommitLedger();
  const mine = commit('a#1', 0n, 10n);
  ledger.record(0, mine);
  mine.endOffset = 99n;
  assert.equal(ledger.take(0)?.endOffset, 10n);
});

void test('a fenced commit is known not to have landed: nothing is recorded and the error is kept', () => {
  const ledger = new CommitLedger();
  const fenced = new FencedError('PRODUCER_FENCED', 'fenced');
  assert.equal(recordIfInDoubt(ledger, silentLogger, 0, fenced, commit('a#1', 0n, 5n)), fenced);
  assert.equal(ledger.take(0), undefined);
});

void test('a retriable commit failure is recorded and becomes CommitOutcomeUnknownError, its cause kept', () => {
  const ledger = new CommitLedger();
  const timeout = new RetriableError('REQUEST_TIMED_OUT', 'EndTxn timed out');
  const failure = recordIfInDoubt(ledger, silentLogger, 2, timeout, commit('a#7', 4n, 9n));
  assert.ok(failure instanceof CommitOutcomeUnknownError);
  assert.equal(failure.code, 'COMMIT_OUTCOME_UNKNOWN');
  assert.equal(failure.cause, timeout);
  assert.match(failure.message, /a#7 has an unknown outcome: EndTxn timed out/);
  assert.deepEqual(ledger.take(2), commit('a#7', 4n, 9n));
});

void test('a fatal or already unknown commit failure is recorded but passed on as it is', () => {
  const ledger = new CommitLedger();
  const fatal = new FatalError('AUTHORIZATION_FAILED', 'no ACL');
  assert.equal(recordIfInDoubt(ledger, silentLogger, 0, fatal, commit('a#1', 0n, 5n)), fatal);
  assert.equal(ledger.take(0)?.attemptId, 'a#1');
  const unknown = new CommitOutcomeUnknownError('lost');
  assert.equal(recordIfInDoubt(ledger, silentLogger, 0, unknown, commit('a#2', 0n, 5n)), unknown);
  assert.equal(ledger.take(0)?.attemptId, 'a#2');
});
