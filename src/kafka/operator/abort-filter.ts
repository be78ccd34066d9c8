/**
 * kafkajs's filter of aborted transactional records (src/consumer/filterAbortedMessages.js, which
 * patches/kafkajs+2.2.4.patch makes follow the Java consumer), for the readers that decode Fetch responses
 * themselves instead of going through a kafkajs consumer's Batch: every read_committed reader then drops
 * exactly the records the stage's own consumer drops, and a fix to the filter reaches all of them at once.
 */
import { createRequire } from 'node:module';

/** As the Fetch response lists it: a producer's aborted transaction and the offset of its first record. */
export interface AbortedTransaction {
  producerId: string;
  firstOffset: string;
}

/** The fields of kafkajs's per-batch context the filter reads; one object is shared by a batch's records. */
export interface FetchedBatchContext {
  firstOffset?: string;
  lastOffsetDelta?: number;
  producerId?: string;
  inTransaction?: boolean;
}

export interface AbortFilterMessage {
  offset: string;
  key?: Buffer | null;
  isControlRecord: boolean;
  batchContext?: FetchedBatchContext;
}

type FilterAbortedMessages = <M extends AbortFilterMessage>(input: {
  messages: M[];
  abortedTransactions: readonly AbortedTransaction[];
}) => M[];

/** kafkajs has no `exports` map and does not export the filter, so it is loaded from its sources. */
const requireFromHere = createRequire(__filename);
const filterAbortedMessages = requireFromHere(
  'kafkajs/src/consumer/filterAbortedMessages',
) as FilterAbortedMessages;

/**
 * The records of one partition's fetched data that a read_committed consumer is handed: no record of an aborted
 * transaction and no transaction marker (markers are only read to end an aborted transaction).
 */
export function committedRecords<M extends AbortFilterMessage>(
  messages: readonly M[],
  abortedTransactions: readonly AbortedTransaction[] = [],
): M[] {
  return filterAbortedMessages({ messages: [...messages], abortedTransactions }).filter(
    (m) => !m.isControlRecord,
  );
}
