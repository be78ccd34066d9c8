import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';

import { FencedError, RetriableError, StageError } from '../../src/errors/errors.js';
import { translateKafkaError, translateTransactionalError } from '../../src/kafka/client/translate-error.js';

// The real kafkajs 2.2.4 classes, from its sources: its .d.ts omits several constructors' arguments and does not
// export createErrorFromCode, which builds protocol errors exactly as the broker client does.
type ErrorClass = new (e: unknown, options?: Record<string, unknown>) => Error;
interface KafkaErrors {
  KafkaJSError: ErrorClass;
  KafkaJSNonRetriableError: ErrorClass;
  KafkaJSNumberOfRetriesExceeded: ErrorClass;
  KafkaJSConnectionError: ErrorClass;
  KafkaJSConnectionClosedError: ErrorClass;
  KafkaJSRequestTimeoutError: ErrorClass;
  KafkaJSLockTimeout: ErrorClass;
  KafkaJSSASLAuthenticationError: ErrorClass;
  KafkaJSGroupCoordinatorNotFound: ErrorClass;
  KafkaJSNoBrokerAvailableError: ErrorClass;
  KafkaJSBrokerNotFound: ErrorClass;
  KafkaJSServerDoesNotSupportApiKey: ErrorClass;
}
interface KafkaProtocolErrors {
  createErrorFromCode: (code: number) => Error & { type: string };
}
const requireFromHere = createRequire(__filename);
const k = requireFromHere('kafkajs/src/errors') as KafkaErrors;
const { createErrorFromCode } = requireFromHere('kafkajs/src/protocol/error') as KafkaProtocolErrors;

/** Kafka protocol error codes, as numbered by the broker. */
const CODE = {
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  LEADER_NOT_AVAILABLE: 5,
  NOT_LEADER_FOR_PARTITION: 6,
  REQUEST_TIMED_OUT: 7,
  MESSAGE_TOO_LARGE: 10,
  NETWORK_EXCEPTION: 13,
  GROUP_LOAD_IN_PROGRESS: 14,
  GROUP_COORDINATOR_NOT_AVAILABLE: 15,
  NOT_COORDINATOR_FOR_GROUP: 16,
  NOT_ENOUGH_REPLICAS: 19,
  ILLEGAL_GENERATION: 22,
  UNKNOWN_MEMBER_ID: 25,
  REBALANCE_IN_PROGRESS: 27,
  TOPIC_AUTHORIZATION_FAILED: 29,
  GROUP_AUTHORIZATION_FAILED: 30,
  CLUSTER_AUTHORIZATION_FAILED: 31,
  OUT_OF_ORDER_SEQUENCE_NUMBER: 45,
  INVALID_PRODUCER_EPOCH: 47,
  INVALID_TXN_STATE: 48,
  INVALID_PRODUCER_ID_MAPPING: 49,
  INVALID_TRANSACTION_TIMEOUT: 50,
  CONCURRENT_TRANSACTIONS: 51,
  TRANSACTIONAL_ID_AUTHORIZATION_FAILED: 53,
  SASL_AUTHENTICATION_FAILED: 58,
  UNKNOWN_PRODUCER_ID: 59,
  FENCED_INSTANCE_ID: 82,
  PRODUCER_FENCED: 90,
} as const;

const protocol = (code: number): Error & { type: string } => createErrorFromCode(code);
/** What kafkajs' retrier throws for a non-retriable error (src/retry/index.js). */
const nonRetriable = (e: Error): Error => new k.KafkaJSNonRetriableError(e, { cause: e });
/** What kafkajs' retrier throws when a retriable error outlasts its retries. */
const retriesExceeded = (e: Error): Error =>
  new k.KafkaJSNumberOfRetriesExceeded(e, { retryCount: 5, retryTime: 1000, cause: e });

function expectTranslation(
  error: unknown,
  kind: string,
  code: string,
  translator: (error: unknown, context: string) => StageError = translateKafkaError,
): void {
  const translated = translator(error, 'ctx');
  assert.deepEqual({ kind: translated.kind, code: translated.code }, { kind, code });
}

test('a fenced producer (INVALID_PRODUCER_EPOCH) is a FencedError with code PRODUCER_FENCED', () => {
  const translated = translateKafkaError(protocol(CODE.INVALID_PRODUCER_EPOCH), 'commit');
  assert.ok(translated instanceof FencedError);
  assert.equal(translated.code, 'PRODUCER_FENCED');
});

test('PRODUCER_FENCED (code 90, unknown to kafkajs 2.2.4) is still recognised as fenced', () => {
  const error = protocol(CODE.PRODUCER_FENCED);
  assert.equal(error.type, 'KAFKAJS_UNKNOWN_ERROR_CODE');
  expectTranslation(error, 'fenced', 'PRODUCER_FENCED');
});

test('an expired producer id (INVALID_PRODUCER_ID_MAPPING, UNKNOWN_PRODUCER_ID) is fenced as PRODUCER_EXPIRED', () => {
  expectTranslation(protocol(CODE.INVALID_PRODUCER_ID_MAPPING), 'fenced', 'PRODUCER_EXPIRED');
  expectTranslation(protocol(CODE.UNKNOWN_PRODUCER_ID), 'fenced', 'PRODUCER_EXPIRED');
});

test('INVALID_TXN_STATE is fenced', () => {
  expectTranslation(protocol(CODE.INVALID_TXN_STATE), 'fenced', 'INVALID_TXN_STATE');
});

test('OUT_OF_ORDER_SEQUENCE_NUMBER is fenced: the producer must be replaced', () => {
  expectTranslation(protocol(CODE.OUT_OF_ORDER_SEQUENCE_NUMBER), 'fenced', 'OUT_OF_ORDER_SEQUENCE');
});

test('a fenced error wrapped by kafkajs in KafkaJSNonRetriableError is still fenced', () => {
  expectTranslation(nonRetriable(protocol(CODE.INVALID_PRODUCER_EPOCH)), 'fenced', 'PRODUCER_FENCED');
});

test("UNKNOWN_SERVER_ERROR is retriable from a transactional producer's requests, and fatal anywhere else", () => {
  const unknown = protocol(-1);
  for (const error of [unknown, nonRetriable(unknown)]) {
    expectTranslation(error, 'retriable', 'BROKER_UNEXPECTED_ERROR', translateTransactionalError);
    expectTranslation(error, 'fatal', 'KAFKA_FATAL');
  }
  // Everything else a transactional producer meets means what it means anywhere.
  expectTranslation(
    protocol(CODE.INVALID_PRODUCER_EPOCH),
    'fenced',
    'PRODUCER_FENCED',
    translateTransactionalError,
  );
});

test('CONCURRENT_TRANSACTIONS is retriable', () => {
  expectTranslation(protocol(CODE.CONCURRENT_TRANSACTIONS), 'retriable', 'CONCURRENT_TRANSACTIONS');
});

test('coordinator moves and loads are retriable as COORDINATOR_NOT_AVAILABLE', () => {
  for (const code of [
    CODE.GROUP_COORDINATOR_NOT_AVAILABLE,
    CODE.NOT_COORDINATOR_FOR_GROUP,
    CODE.GROUP_LOAD_IN_PROGRESS,
  ]) {
    expectTranslation(protocol(code), 'retriable', 'COORDINATOR_NOT_AVAILABLE');
  }
  expectTranslation(new k.KafkaJSGroupCoordinatorNotFound('gone'), 'retriable', 'COORDINATOR_NOT_AVAILABLE');
});

test('leader changes are retriable as LEADER_NOT_AVAILABLE', () => {
  expectTranslation(protocol(CODE.NOT_LEADER_FOR_PARTITION), 'retriable', 'LEADER_NOT_AVAILABLE');
  expectTranslation(protocol(CODE.LEADER_NOT_AVAILABLE), 'retriable', 'LEADER_NOT_AVAILABLE');
});

test('UNKNOWN_TOPIC_OR_PARTITION is retriable', () => {
  expectTranslation(protocol(CODE.UNKNOWN_TOPIC_OR_PARTITION), 'retriable', 'UNKNOWN_TOPIC_OR_PARTITION');
});

test('request timeouts, from the broker or from the client, are retriable as REQUEST_TIMED_OUT', () => {
  expectTranslation(protocol(CODE.REQUEST_TIMED_OUT), 'retriable', 'REQUEST_TIMED_OUT');
  expectTranslation(
    new k.KafkaJSRequestTimeoutError('Request Produce timed out'),
    'retriable',
    'REQUEST_TIMED_OUT',
  );
});

test('connection failures are retriable as CONNECTION_FAILED', () => {
  expectTranslation(protocol(CODE.NETWORK_EXCEPTION), 'retriable', 'CONNECTION_FAILED');
  expectTranslation(
    new k.KafkaJSConnectionError('Connection error: ECONNREFUSED'),
    'retriable',
    'CONNECTION_FAILED',
  );
  expectTranslation(
    new k.KafkaJSConnectionClosedError('Closed connection'),
    'retriable',
    'CONNECTION_FAILED',
  );
  expectTranslation(new k.KafkaJSNoBrokerAvailableError(undefined), 'retriable', 'CONNECTION_FAILED');
});

test('a kafkajs lock timeout is retriable although kafkajs marks it non-retriable', () => {
  expectTranslation(new k.KafkaJSLockTimeout('Timeout while acquiring lock'), 'retriable', 'LOCK_TIMEOUT');
});

test('retries exhausted on a retriable error are decided by the cause', () => {
  expectTranslation(
    retriesExceeded(protocol(CODE.CONCURRENT_TRANSACTIONS)),
    'retriable',
    'CONCURRENT_TRANSACTIONS',
  );
  expectTranslation(
    retriesExceeded(new k.KafkaJSConnectionError('refused')),
    'retriable',
    'CONNECTION_FAILED',
  );
});

test('retries exhausted on a retriable error of no specific type stay retriable', () => {
  expectTranslation(retriesExceeded(protocol(CODE.NOT_ENOUGH_REPLICAS)), 'retriable', 'KAFKA_RETRIABLE');
});

test('retries exhausted on an error that is not from kafkajs are fatal', () => {
  expectTranslation(retriesExceeded(new Error('something else')), 'fatal', 'KAFKA_FATAL');
});

test('any other error kafkajs flags retriable is retriable', () => {
  expectTranslation(
    new k.KafkaJSBrokerNotFound('Broker 3 not found in the cached metadata'),
    'retriable',
    'KAFKA_RETRIABLE',
  );
});

test('rebalance protocol errors are retriable as REBALANCE_IN_PROGRESS', () => {
  for (const code of [CODE.REBALANCE_IN_PROGRESS, CODE.ILLEGAL_GENERATION, CODE.UNKNOWN_MEMBER_ID]) {
    expectTranslation(protocol(code), 'retriable', 'REBALANCE_IN_PROGRESS');
  }
});

test('a rebalance error rewrapped by the consumer group as a bare KafkaJSError is REBALANCE_IN_PROGRESS', () => {
  // kafkajs src/consumer/consumerGroup.js: `throw new KafkaJSError(e)`, which keeps only the message.
  const wrapped = new k.KafkaJSError(protocol(CODE.REBALANCE_IN_PROGRESS));
  assert.equal((wrapped as Error & { type?: string }).type, undefined);
  expectTranslation(wrapped, 'retriable', 'REBALANCE_IN_PROGRESS');
  expectTranslation(
    new k.KafkaJSError(protocol(CODE.UNKNOWN_MEMBER_ID)),
    'retriable',
    'REBALANCE_IN_PROGRESS',
  );
});

test('authorization failures are fatal', () => {
  for (const code of [
    CODE.TOPIC_AUTHORIZATION_FAILED,
    CODE.GROUP_AUTHORIZATION_FAILED,
    CODE.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
    CODE.CLUSTER_AUTHORIZATION_FAILED,
  ]) {
    expectTranslation(protocol(code), 'fatal', 'AUTHORIZATION_FAILED');
  }
});

test('an authorization failure wrapped by the retrier is still fatal', () => {
  expectTranslation(
    nonRetriable(protocol(CODE.TRANSACTIONAL_ID_AUTHORIZATION_FAILED)),
    'fatal',
    'AUTHORIZATION_FAILED',
  );
});

test('SASL authentication failures are fatal', () => {
  expectTranslation(
    new k.KafkaJSSASLAuthenticationError('SASL Plain: Invalid username or password'),
    'fatal',
    'AUTHENTICATION_FAILED',
  );
  expectTranslation(protocol(CODE.SASL_AUTHENTICATION_FAILED), 'fatal', 'AUTHENTICATION_FAILED');
});

test('INVALID_TRANSACTION_TIMEOUT is fatal and tells the operator to lower TRANSACTION_TIMEOUT_MS', () => {
  const translated = translateKafkaError(
    nonRetriable(protocol(CODE.INVALID_TRANSACTION_TIMEOUT)),
    'init producer',
  );
  assert.equal(translated.kind, 'fatal');
  assert.equal(translated.code, 'TRANSACTION_TIMEOUT_INVALID');
  assert.match(
    translated.message,
    /lower TRANSACTION_TIMEOUT_MS below the broker's transaction\.max\.timeout\.ms/,
  );
});

test('an unrecognised protocol error is fatal', () => {
  expectTranslation(protocol(CODE.MESSAGE_TOO_LARGE), 'fatal', 'KAFKA_FATAL');
});

test('an unrecognised kafkajs client error is fatal', () => {
  expectTranslation(new k.KafkaJSServerDoesNotSupportApiKey('no such api'), 'fatal', 'KAFKA_FATAL');
  expectTranslation(
    new k.KafkaJSNonRetriableError('Transaction state exception: Cannot call "send" in state "COMMITTING"'),
    'fatal',
    'KAFKA_FATAL',
  );
});

test('errors that are not from kafkajs at all are fatal', () => {
  expectTranslation(new TypeError('x is undefined'), 'fatal', 'KAFKA_FATAL');
  expectTranslation('a string', 'fatal', 'KAFKA_FATAL');
  expectTranslation(undefined, 'fatal', 'KAFKA_FATAL');
});

test('the message is the context followed by the original message', () => {
  const original = protocol(CODE.CONCURRENT_TRANSACTIONS);
  const translated = translateKafkaError(original, 'task server-metrics-3: send offsets');
  assert.equal(translated.message, `task server-metrics-3: send offsets: ${original.message}`);
});

test('the original error is kept as cause', () => {
  const original = nonRetriable(protocol(CODE.INVALID_PRODUCER_EPOCH));
  assert.equal(translateKafkaError(original, 'ctx').cause, original);
});

test('a StageError passes through unchanged, even when kafkajs wrapped it', () => {
  const own = new RetriableError('REGISTRY_UNAVAILABLE', 'registry down');
  assert.equal(translateKafkaError(own, 'ctx'), own);
  assert.equal(translateKafkaError(nonRetriable(own), 'ctx'), own);
});

test('translation never throws, even for a value whose every inspection throws', () => {
  const hostile = new Proxy(
    {},
    {
      get() {
        throw new Error('trap');
      },
      has() {
        throw new Error('trap');
      },
      getPrototypeOf() {
        throw new Error('trap');
      },
    },
  );
  const translated = translateKafkaError(hostile, 'ctx');
  assert.ok(translated instanceof StageError);
  assert.equal(translated.kind, 'fatal');
});

test('a cyclic cause chain does not hang translation', () => {
  const a = new Error('a') as Error & { cause?: unknown };
  const b = new Error('b', { cause: a });
  a.cause = b;
  expectTranslation(a, 'fatal', 'KAFKA_FATAL');
});

test('FENCED_INSTANCE_ID is fatal: rejoining would fence the other process sharing the INSTANCE_ID in turn', () => {
  expectTranslation(protocol(CODE.FENCED_INSTANCE_ID), 'fatal', 'INSTANCE_FENCED');
  expectTranslation(nonRetriable(protocol(CODE.FENCED_INSTANCE_ID)), 'fatal', 'INSTANCE_FENCED');
  assert.match(translateKafkaError(protocol(CODE.FENCED_INSTANCE_ID), 'ctx').message, /INSTANCE_ID/);
});
