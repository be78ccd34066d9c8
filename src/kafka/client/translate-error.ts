import {
  FatalError,
  FencedError,
  RetriableError,
  isStageError,
  type ErrorCodeOfKind,
  type StageError,
} from '../../errors/errors.js';
import { isTlsVerificationCode } from '../../errors/tls.js';

/**
 * kafkajs errors become StageErrors here, at the boundary, so nothing above src/kafka has to know kafkajs'
 * error names, its protocol types or the way its retrier wraps one error in another.
 *
 * How kafkajs 2.2.4 shapes what reaches us (src/errors.js, src/retry/index.js):
 * - broker errors are KafkaJSProtocolError with `type` (e.g. 'INVALID_PRODUCER_EPOCH') and `retriable`;
 * - its retrier rethrows a non-retriable error as KafkaJSNonRetriableError with the original as `cause`, and a
 *   retriable one that ran out of attempts as KafkaJSNumberOfRetriesExceeded, also with `cause`;
 * - its consumer group rethrows rebalance errors as a bare KafkaJSError that keeps only the message;
 * - broker error codes newer than its table (89, 90) arrive as type 'KAFKAJS_UNKNOWN_ERROR_CODE' whose message
 *   ends with the number.
 * So the innermost recognisable error decides, and names are compared, not classes (instanceof would fail
 * across two copies of kafkajs and could not see the class of the wrapped rebalance error anyway).
 */
export function translateKafkaError(error: unknown, context: string): StageError {
  return translateWith(error, context, NO_OVERRIDES);
}

/**
 * translateKafkaError for the requests of a transactional producer, where one more broker answer has a recovery:
 * UNKNOWN_SERVER_ERROR. A producer is replaced after any failure, and the new one's InitProducerId settles
 * whatever transaction the broken one left (a commit in doubt included), so retrying costs nothing that any
 * failed commit does not. Elsewhere (admin calls, the consumer) nothing settles it, and it stays fatal.
 */
export function translateTransactionalError(error: unknown, context: string): StageError {
  return translateWith(error, context, TRANSACTIONAL_OVERRIDES);
}

function translateWith(error: unknown, context: string, overrides: ReadonlyMap<string, Verdict>): StageError {
  try {
    return translate(error, context, overrides);
  } catch {
    // Reading properties of an exotic value (a Proxy, a getter) threw; nothing is known, so fail safe.
    return new FatalError('KAFKA_FATAL', `${context}: an error that could not be inspected`, {
      cause: error,
    });
  }
}

type Verdict =
  | { readonly kind: 'retriable'; readonly code: ErrorCodeOfKind<'retriable'>; readonly advice?: string }
  | { readonly kind: 'fenced'; readonly code: ErrorCodeOfKind<'fenced'> }
  | { readonly kind: 'fatal'; readonly code: ErrorCodeOfKind<'fatal'>; readonly advice?: string };

const retriable = (code: ErrorCodeOfKind<'retriable'>, advice?: string): Verdict => ({
  kind: 'retriable',
  code,
  advice,
});
const fenced = (code: ErrorCodeOfKind<'fenced'>): Verdict => ({ kind: 'fenced', code });
const fatal = (code: ErrorCodeOfKind<'fatal'>, advice?: string): Verdict => ({ kind: 'fatal', code, advice });

const COORDINATOR = retriable('COORDINATOR_NOT_AVAILABLE');
const LEADER = retriable('LEADER_NOT_AVAILABLE');
const REBALANCE = retriable('REBALANCE_IN_PROGRESS');
// The address in kafkajs' message is one the operator gave, or one a broker advertised: say where it came from.
const CONNECTION = retriable(
  'CONNECTION_FAILED',
  "no broker answered there; the addresses come from KAFKA_BROKERS and the brokers' advertised listeners",
);
const AUTHORIZATION = fatal('AUTHORIZATION_FAILED', "check the ACLs of the stage's principal");
const AUTHENTICATION = fatal(
  'AUTHENTICATION_FAILED',
  'check KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD',
);

const TLS_CERTIFICATE = fatal(
  'TLS_CERTIFICATE_REJECTED',
  "check KAFKA_SSL_CA_FILE (the CA that signed the brokers' certificates) and that KAFKA_BROKERS names the hosts in them",
);

/** Broker error types, under kafkajs' names and, where Kafka renamed them since, the current ones too. */
const BY_PROTOCOL_TYPE = new Map<string, Verdict>([
  ['INVALID_PRODUCER_EPOCH', fenced('PRODUCER_FENCED')],
  ['PRODUCER_FENCED', fenced('PRODUCER_FENCED')],
  ['INVALID_PRODUCER_ID_MAPPING', fenced('PRODUCER_EXPIRED')],
  ['UNKNOWN_PRODUCER_ID', fenced('PRODUCER_EXPIRED')],
  ['INVALID_TXN_STATE', fenced('INVALID_TXN_STATE')],
  // Kafka Streams treats this like a fenced producer: the producer's sequence state is unusable, so replace it.
  ['OUT_OF_ORDER_SEQUENCE_NUMBER', fenced('OUT_OF_ORDER_SEQUENCE')],

  ['CONCURRENT_TRANSACTIONS', retriable('CONCURRENT_TRANSACTIONS')],
  ['GROUP_COORDINATOR_NOT_AVAILABLE', COORDINATOR],
  ['COORDINATOR_NOT_AVAILABLE', COORDINATOR],
  ['NOT_COORDINATOR_FOR_GROUP', COORDINATOR],
  ['NOT_COORDINATOR', COORDINATOR],
  ['GROUP_LOAD_IN_PROGRESS', COORDINATOR],
  ['COORDINATOR_LOAD_IN_PROGRESS', COORDINATOR],
  ['NOT_LEADER_FOR_PARTITION', LEADER],
  ['NOT_LEADER_OR_FOLLOWER', LEADER],
  ['LEADER_NOT_AVAILABLE', LEADER],
  ['FENCED_LEADER_EPOCH', LEADER],
  ['UNKNOWN_LEADER_EPOCH', LEADER],
  ['UNKNOWN_TOPIC_OR_PARTITION', retriable('UNKNOWN_TOPIC_OR_PARTITION')],
  ['REQUEST_TIMED_OUT', retriable('REQUEST_TIMED_OUT')],
  ['NETWORK_EXCEPTION', CONNECTION],
  // kafkajs marks these non-retriable because its consumer must rejoin first; for us they mean "drop the batch".
  ['REBALANCE_IN_PROGRESS', REBALANCE],
  ['ILLEGAL_GENERATION', REBALANCE],
  ['UNKNOWN_MEMBER_ID', REBALANCE],
  ['THROTTLING_QUOTA_EXCEEDED', retriable('KAFKA_RETRIABLE')],

  ['TOPIC_AUTHORIZATION_FAILED', AUTHORIZATION],
  ['GROUP_AUTHORIZATION_FAILED', AUTHORIZATION],
  ['TRANSACTIONAL_ID_AUTHORIZATION_FAILED', AUTHORIZATION],
  ['CLUSTER_AUTHORIZATION_FAILED', AUTHORIZATION],
  ['SASL_AUTHENTICATION_FAILED', AUTHENTICATION],
  ['UNSUPPORTED_SASL_MECHANISM', AUTHENTICATION],
  ['ILLEGAL_SASL_STATE', AUTHENTICATION],
  // Not retriable: rejoining would fence the other process in turn, and the two would take turns for ever.
  ['FENCED_INSTANCE_ID', fatal('INSTANCE_FENCED', 'two processes share one INSTANCE_ID; give each its own')],
  [
    'INVALID_TRANSACTION_TIMEOUT',
    fatal(
      'TRANSACTION_TIMEOUT_INVALID',
      "lower TRANSACTION_TIMEOUT_MS below the broker's transaction.max.timeout.ms (900000 by default)",
    ),
  ],
]);

const NO_OVERRIDES: ReadonlyMap<string, Verdict> = new Map();
// kafkajs names Kafka's UNKNOWN_SERVER_ERROR (-1) 'UNKNOWN'.
const TRANSACTIONAL_OVERRIDES: ReadonlyMap<string, Verdict> = new Map([
  ['UNKNOWN', retriable('BROKER_UNEXPECTED_ERROR')],
  ['UNKNOWN_SERVER_ERROR', retriable('BROKER_UNEXPECTED_ERROR')],
]);

/** Broker error codes kafkajs 2.2.4 does not know, by the names Kafka gives them. */
const TYPE_OF_UNKNOWN_CODE = new Map<number, string>([
  [89, 'THROTTLING_QUOTA_EXCEEDED'],
  [90, 'PRODUCER_FENCED'],
]);
const UNKNOWN_CODE_MESSAGE = /^Unknown error code (-?\d+)$/;

/** kafkajs' own (client-side) error classes, by name. */
const BY_NAME = new Map<string, Verdict>([
  ['KafkaJSConnectionError', CONNECTION],
  ['KafkaJSConnectionClosedError', CONNECTION],
  ['KafkaJSNoBrokerAvailableError', CONNECTION],
  ['KafkaJSRequestTimeoutError', retriable('REQUEST_TIMED_OUT')],
  ['KafkaJSLockTimeout', retriable('LOCK_TIMEOUT')],
  // Thrown once kafkajs has given up looking; the coordinator may well be back on the next attempt.
  ['KafkaJSGroupCoordinatorNotFound', COORDINATOR],
  ['KafkaJSSASLAuthenticationError', AUTHENTICATION],
]);

/**
 * The consumer group rethrows rebalance errors as `new KafkaJSError(protocolError)`, which keeps the message but
 * drops `type`, so the message is all that is left to recognise them by (kafkajs src/consumer/consumerGroup.js).
 */
const BY_BARE_KAFKAJS_ERROR_MESSAGE = new Map<string, Verdict>([
  ['The group is rebalancing, so a rejoin is needed', REBALANCE],
  ['Specified group generation id is not valid', REBALANCE],
  ['The coordinator is not aware of this member', REBALANCE],
  ['This is not the correct coordinator for this group', COORDINATOR],
]);

/** Enough to stop at, and more than kafkajs ever nests. */
const MAX_CAUSE_DEPTH = 8;

interface ErrorFields {
  readonly name: unknown;
  readonly message: unknown;
  readonly type: unknown;
  readonly retriable: unknown;
  /** A protocol error's number, or a connection error's Node code ('ECONNREFUSED', 'CERT_HAS_EXPIRED'…). */
  readonly code: unknown;
}

function translate(error: unknown, context: string, overrides: ReadonlyMap<string, Verdict>): StageError {
  const chain = causeChain(error);
  // Our own code already decided what its errors mean, even when kafkajs wrapped one on the way out.
  const own = chain.find(isStageError);
  if (own !== undefined) return own;

  const innermostFirst = chain.map(fieldsOf).toReversed();
  const message = `${context}: ${describe(error)}`;
  for (const link of innermostFirst) {
    const verdict = verdictOf(link, overrides);
    if (verdict !== undefined) return toStageError(verdict, message, error);
  }

  // kafkajs' own rule (src/consumer/index.js): the innermost error that says whether it is retriable decides.
  const flagged = innermostFirst.find((link) => typeof link.retriable === 'boolean');
  if (flagged?.retriable === true) return new RetriableError('KAFKA_RETRIABLE', message, { cause: error });
  return new FatalError('KAFKA_FATAL', message, { cause: error });
}

function verdictOf(link: ErrorFields, overrides: ReadonlyMap<string, Verdict>): Verdict | undefined {
  if (typeof link.type === 'string') {
    const type = protocolType(link.type, link.message);
    const verdict = overrides.get(type) ?? BY_PROTOCOL_TYPE.get(type);
    if (verdict !== undefined) return verdict;
  }
  if (link.name === 'KafkaJSConnectionError' && typeof link.code === 'string') {
    if (isTlsVerificationCode(link.code)) return TLS_CERTIFICATE;
  }
  if (typeof link.name === 'string') {
    const verdict = BY_NAME.get(link.name);
    if (verdict !== undefined) return verdict;
    if (link.name === 'KafkaJSError' && typeof link.message === 'string') {
      return BY_BARE_KAFKAJS_ERROR_MESSAGE.get(link.message);
    }
  }
  return undefined;
}

function protocolType(type: string, message: unknown): string {
  if (type !== 'KAFKAJS_UNKNOWN_ERROR_CODE' || typeof message !== 'string') return type;
  const code = UNKNOWN_CODE_MESSAGE.exec(message)?.[1];
  return (code === undefined ? undefined : TYPE_OF_UNKNOWN_CODE.get(Number(code))) ?? type;
}

function toStageError(verdict: Verdict, message: string, cause: unknown): StageError {
  const advised =
    'advice' in verdict && verdict.advice !== undefined ? `${message} (${verdict.advice})` : message;
  switch (verdict.kind) {
    case 'retriable':
      return new RetriableError(verdict.code, advised, { cause });
    case 'fenced':
      return new FencedError(verdict.code, advised, { cause });
    case 'fatal':
      return new FatalError(verdict.code, advised, { cause });
  }
}

/** The error and its causes, outermost first; stops at cycles and at MAX_CAUSE_DEPTH. */
function causeChain(error: unknown): unknown[] {
  const chain: unknown[] = [];
  let link: unknown = error;
  while (link !== undefined && link !== null && chain.length < MAX_CAUSE_DEPTH && !chain.includes(link)) {
    chain.push(link);
    link = typeof link === 'object' && 'cause' in link ? link.cause : undefined;
  }
  return chain;
}

function fieldsOf(link: unknown): ErrorFields {
  if (typeof link !== 'object' || link === null) {
    return { name: undefined, message: undefined, type: undefined, retriable: undefined, code: undefined };
  }
  const fields = link as Partial<Record<keyof ErrorFields, unknown>>;
  return {
    name: fields.name,
    message: fields.message,
    type: fields.type,
    retriable: fields.retriable,
    code: fields.code,
  };
}

function describe(error: unknown): string {
  const { message } = fieldsOf(error);
  if (typeof message === 'string' && message !== '') return message;
  if (typeof error === 'string') return error;
  if (error === undefined || error === null) return `${String(error)} was thrown`;
  return 'an error without a message';
}
