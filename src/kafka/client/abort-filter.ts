/**
 * kafkajs's filter of aborted transactional records (src/consumer/filterAbortedMessages.js, which
 * patches/kafkajs+2.2.4+001+abort-filter.patch makes follow the Java consumer), for the readers that decode Fetch responses
 * themselves instead of going through a kafkajs consumer's Batch: every read_committed reader then drops
 * exactly the records the stage's own consumer drops, and a fix to the filter reaches all of them at once.
 */
import {
  filterAbortedMessages,
  type AbortFilterMessage,
  type AbortedTransaction,
} from '../../kafkajs-internals/index.js';

/**
 * The records of one partition's fetched data that a read_committed consumer is handed: no record of an aborted
 * transaction and no transaction marker (markers are only read to end an aborted transaction).
 */
export function committedRecords<M extends AbortFilterMessage>(
  messages: readonly M[],
  abortedTransactions: readonly AbortedTransaction[] = [],
): M[] {
  return filterAbortedMessages()({ messages: [...messages], abortedTransactions }).filter(
    (m) => !m.isControlRecord,
  );
}
