/**
 * Every error that crosses a module boundary is a StageError whose code names what went wrong and whose kind
 * names the one recovery the engine applies. The kind is derived from the code, so the two can never disagree.
 *
 * Poison pills are not here on purpose: a record that can never succeed is a data outcome (dead-lettered in the
 * same transaction), not an exception.
 */

export type ErrorKind = 'retriable' | 'fenced' | 'fatal' | 'config';

export const ERROR_KINDS: readonly ErrorKind[] = ['retriable', 'fenced', 'fatal', 'config'];

/** The closed list of codes. Codes are stable: logs, metrics labels and exit reasons carry them. */
export const ERROR_CODES = {
  /** A configuration variable is missing or not allowed; reported once, at start. */
  CONFIG_INVALID: 'config',

  /** A broker connection failed or closed, or the broker reported a network exception. */
  CONNECTION_FAILED: 'retriable',
  /** A request to a broker timed out. */
  REQUEST_TIMED_OUT: 'retriable',
  /** The group or transaction coordinator is moving, loading or not yet known. */
  COORDINATOR_NOT_AVAILABLE: 'retriable',
  /** The previous transaction of this transactional id is still being completed by the coordinator. */
  CONCURRENT_TRANSACTIONS: 'retriable',
  /** A partition has no leader right now, or this client's metadata about its leader is stale. */
  LEADER_NOT_AVAILABLE: 'retriable',
  /** The broker does not know the topic or partition (yet); persistence of this is somebody else's alarm. */
  UNKNOWN_TOPIC_OR_PARTITION: 'retriable',
  /** The consumer group is rebalancing; the engine drops the batch and lets the consumer rejoin. */
  REBALANCE_IN_PROGRESS: 'retriable',
  /** kafkajs timed out waiting for one of its internal locks (typically a broker connection being set up). */
  LOCK_TIMEOUT: 'retriable',
  /** Any other error kafkajs itself flags as retriable. */
  KAFKA_RETRIABLE: 'retriable',
  /** The schema registry is unreachable or answered 5xx. */
  REGISTRY_UNAVAILABLE: 'retriable',
  /** Processing one record threw; retried a bounded number of times, then the record is dead-lettered. */
  RECORD_PROCESSING_FAILED: 'retriable',
  /** A commit failed in a way that leaves its outcome unknown; settled by re-reading the committed offsets. */
  COMMIT_OUTCOME_UNKNOWN: 'retriable',
  /** A changelog partition's last stable offset stayed below its high watermark (an open transaction) too long. */
  CHANGELOG_UNSTABLE: 'retriable',
  /**
   * A transactional producer's request was answered UNKNOWN_SERVER_ERROR, an exception inside the broker: seen
   * from a transaction coordinator whose EndTxn raced the InitProducerId of a rebalance's new owner. The producer
   * is replaced and the task re-initialized, whose InitProducerId settles the transaction; an EndTxn answered so
   * is a commit whose outcome is unknown. Only the transactional producer maps it here; elsewhere it stays fatal.
   */
  BROKER_UNEXPECTED_ERROR: 'retriable',

  /** Another producer with the same transactional id has a newer epoch: this one is a zombie. */
  PRODUCER_FENCED: 'fenced',
  /** The coordinator no longer knows this producer id (expired or its transaction timed out). */
  PRODUCER_EXPIRED: 'fenced',
  /** The coordinator rejected the request for the transaction's current state. */
  INVALID_TXN_STATE: 'fenced',
  /** The broker saw a gap in this producer's sequence numbers; like Kafka Streams, recover by a new producer. */
  OUT_OF_ORDER_SEQUENCE: 'fenced',
  /** The task's partition is no longer owned by this instance. */
  TASK_MIGRATED: 'fenced',

  /** The broker or registry rejected the credentials. */
  AUTHENTICATION_FAILED: 'fatal',
  /** A broker's or the registry's TLS certificate did not verify (unknown CA, wrong host, expired): retries cannot help. */
  TLS_CERTIFICATE_REJECTED: 'fatal',
  /** The principal lacks an ACL the stage needs (topic, group, transactional id or cluster). */
  AUTHORIZATION_FAILED: 'fatal',
  /** TRANSACTION_TIMEOUT_MS exceeds the broker's transaction.max.timeout.ms. */
  TRANSACTION_TIMEOUT_INVALID: 'fatal',
  /** Another process joined the input group as the same static member (same INSTANCE_ID): this one is out. */
  INSTANCE_FENCED: 'fatal',
  /** The brokers are older than Kafka 4.0, whose transactional offset commits the stage cannot read safely. */
  BROKER_UNSUPPORTED: 'fatal',
  /** A topic the stage needs is missing or exists with settings it cannot work with. */
  TOPIC_INCOMPATIBLE: 'fatal',
  /** A Kafka error that has no recovery defined here; unknown errors are fatal, never skipped. */
  KAFKA_FATAL: 'fatal',
  /**
   * A changelog record cannot be decoded. Fatal, not retried: the changelog is the state's only source, and a
   * restore reads the same bytes again; guessing around them would count records wrongly.
   */
  CHANGELOG_CORRUPT: 'fatal',
  /** A state the code rules out was reached: a bug. */
  INVARIANT_VIOLATED: 'fatal',
} as const satisfies Record<string, ErrorKind>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The codes whose kind is K; lets each subclass accept only codes of its own kind. */
export type ErrorCodeOfKind<K extends ErrorKind> = {
  [C in ErrorCode]: (typeof ERROR_CODES)[C] extends K ? C : never;
}[ErrorCode];

export interface StageErrorOptions {
  cause?: unknown;
}

/**
 * K narrows the codes a subclass accepts (RetriableError takes only retriable codes) without a constructor of its
 * own; plain `StageError` accepts every code.
 */
export class StageError<K extends ErrorKind = ErrorKind> extends Error {
  // Typed wide on purpose: a conditional type of K here would make StageError<'fatal'> unassignable to StageError.
  readonly code: ErrorCode;
  readonly kind: K;

  constructor(code: ErrorCodeOfKind<K>, message: string, options?: StageErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    // TypeScript cannot see that the kind of a code of kind K is K.
    this.kind = ERROR_CODES[code] as K;
  }
}

/** A type guard rather than bare `instanceof`, which types a generic class's instance as StageError<any>. */
export function isStageError(value: unknown): value is StageError {
  return value instanceof StageError;
}

/** Abort, discard state changes since the last commit, rewind, back off, retry. */
export class RetriableError extends StageError<'retriable'> {}

/** Close the task dirty (no commit with this producer); re-initialise it if the partition is still owned. */
export class FencedError extends StageError<'fenced'> {}

/** Log and exit non-zero. */
export class FatalError extends StageError<'fatal'> {}

/**
 * Every configuration problem found at start, reported together so one restart fixes them all.
 * Each problem is one line naming the variable; secrets are never quoted.
 */
export class ConfigError extends StageError<'config'> {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super('CONFIG_INVALID', problems.join('; '));
    this.problems = Object.freeze([...problems]);
  }
}

/**
 * A commit whose result did not arrive (timeout, connection lost). It is not fenced: the transaction may well
 * have committed, so the engine settles it by re-reading the committed offsets rather than assuming either way.
 * The task raises it (the transport's error as cause) when it records such a commit in its commit ledger.
 */
export class CommitOutcomeUnknownError extends RetriableError {
  constructor(message: string, options?: StageErrorOptions) {
    super('COMMIT_OUTCOME_UNKNOWN', message, options);
  }
}

/** The schema registry could not answer now; the lookup happens before a transaction opens, so just retry. */
export class RegistryUnavailableError extends RetriableError {
  constructor(message: string, options?: StageErrorOptions) {
    super('REGISTRY_UNAVAILABLE', message, options);
  }
}
