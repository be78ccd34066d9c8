/**
 * Who may take an attempt back, pure: the journal holds, in its own order, entries (absolute: "this is the
 * partition's entry now"), clears (absolute: no entry) and releases ("take back my entry `own`, put `restore`
 * back"). A release counts only when the entry current at its place in that order is the one it names.
 *
 * Why in the journal's order and not by a read before the write: an old owner whose session expired may still
 * be closing its task while the new owner journals its first attempt. A read-then-write release would race with
 * that write and could erase the new owner's entry, and with it the crash the new owner may be about to have.
 */
import type { AttemptStamp, JournaledAttempt } from './ports.js';

export type JournalRecord =
  | { readonly kind: 'entry'; readonly attempt: JournaledAttempt }
  | { readonly kind: 'clear' }
  | { readonly kind: 'release'; readonly own: AttemptStamp; readonly restore: JournaledAttempt | undefined };

export function sameStamp(a: AttemptStamp | undefined, b: AttemptStamp | undefined): boolean {
  if (!a || !b) return false;
  return a.owner === b.owner && a.seq === b.seq;
}

/**
 * The current entry after `records`, a tail of the journal in order. A tail that starts with releases whose
 * entries are older than it (compaction, or a read window) takes the first one's `restore` as its start: a
 * release is only ever written by the owner of the entry current when it was armed.
 */
export function currentAttempt(records: readonly JournalRecord[]): JournaledAttempt | undefined {
  let current: JournaledAttempt | undefined;
  let known = false;
  for (const record of records) {
    switch (record.kind) {
      case 'entry':
        current = record.attempt;
        known = true;
        break;
      case 'clear':
        current = undefined;
        known = true;
        break;
      case 'release':
        if (!known || sameStamp(current?.stamp, record.own)) {
          current = record.restore;
          known = true;
        }
        break;
    }
  }
  return current;
}
