/**
 * kafkajs 2.2.4's own filterAbortedMessages, as published (src/consumer/filterAbortedMessages.js), kept here
 * only so tests can show what the unpatched algorithm lets through on the same fetched data. It walks the
 * broker's aborted-transactions list in the order received (the broker sends it in abort order, not by first
 * offset) and opens at most one aborted transaction per message. Never used by the stage.
 *
 * Copied from kafkajs 2.2.4 under its MIT License, Copyright (c) 2018 Túlio Ornelas (ornelas.tulio@gmail.com);
 * only types were added (a missing batch context reads as an empty one; optional chaining, for the linter).
 */
import type { AbortFilterMessage, AbortedTransaction } from '../../src/kafkajs-internals/index.js';

const ABORTED_MESSAGE_KEY = Buffer.from([0, 0, 0, 0]);

const isAbortMarker = ({ key }: AbortFilterMessage): boolean => {
  if (!key) return false;
  return Buffer.from(key).equals(ABORTED_MESSAGE_KEY);
};

export function originalFilterAbortedMessages<M extends AbortFilterMessage>({
  messages,
  abortedTransactions,
}: {
  messages: M[];
  abortedTransactions?: readonly AbortedTransaction[];
}): M[] {
  const currentAbortedTransactions = new Map<string | undefined, boolean>();

  if (!abortedTransactions?.length) {
    return messages;
  }

  const remainingAbortedTransactions = [...abortedTransactions];

  return messages.filter((message) => {
    const next = remainingAbortedTransactions[0];
    if (next && BigInt(message.offset) >= BigInt(next.firstOffset)) {
      remainingAbortedTransactions.shift();
      currentAbortedTransactions.set(next.producerId, true);
    }

    const { producerId, inTransaction } = message.batchContext ?? {};

    if (isAbortMarker(message)) {
      currentAbortedTransactions.delete(producerId);
    } else if (currentAbortedTransactions.has(producerId) && inTransaction) {
      return false;
    }

    return true;
  });
}
