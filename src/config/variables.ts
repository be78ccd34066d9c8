/**
 * The table of environment variables. It is the single source for defaults, for the ranges the loader enforces
 * and for the text shown by `--help`, the README and every ConfigError, so the three cannot drift apart.
 */

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export const PROCESSING_GUARANTEES = ['exactly_once', 'at_least_once'] as const;
export type ProcessingGuarantee = (typeof PROCESSING_GUARANTEES)[number];
/** Kafka Streams 4.x knows exactly-once only as exactly_once_v2; the same setting here means the same thing. */
export const PROCESSING_GUARANTEE_ALIASES: Readonly<Record<string, ProcessingGuarantee>> = {
  exactly_once_v2: 'exactly_once',
};

/**
 * Deliberately broken variants for negative controls: each breaks one rule exactly-once rests on, or (the last)
 * turns off one the recovery figures rest on.
 */
export const BROKEN_VARIANTS = [
  'offsets-outside-transaction',
  'no-state-rollback',
  'restore-read-uncommitted',
  'resolve-before-commit',
  'shared-transactional-id',
  'instance-transactional-id',
  'no-attempt-release',
  'no-isolation-gate',
  'round-robin-assignment',
] as const;
export type BrokenVariant = (typeof BROKEN_VARIANTS)[number];

export const ON_PROCESS_CRASH_CHOICES = ['quarantine', 'dead-letter'] as const;
export type OnProcessCrash = (typeof ON_PROCESS_CRASH_CHOICES)[number];

export const SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

export interface IntegerSpec {
  readonly kind: 'integer';
  readonly default: string;
  readonly description: string;
  readonly min: number;
  readonly max: number;
  readonly unit?: string;
  /** A value outside [min, max] with its own meaning, such as 0 = off or -1 = broker default. */
  readonly special?: { readonly value: number; readonly meaning: string };
  /** A limit that depends on another variable; enforced in config.ts, stated here for the messages. */
  readonly relation?: string;
}

export interface BooleanSpec {
  readonly kind: 'boolean';
  readonly default: string;
  readonly description: string;
}

export interface ChoiceSpec {
  readonly kind: 'choice';
  readonly default: string | undefined;
  readonly description: string;
  readonly values: readonly string[];
}

export interface TextSpec {
  readonly kind: 'text';
  readonly default: string | undefined;
  readonly description: string;
  readonly allowed: string;
  readonly required?: boolean;
  /** Never echoed in a message or a log line. */
  readonly secret?: boolean;
}

export type VariableSpec = IntegerSpec | BooleanSpec | ChoiceSpec | TextSpec;

const TOPIC_ALLOWED = "a Kafka topic name: 1 to 249 characters from A-Z a-z 0-9 . _ -, not '.' or '..'";
const ID_ALLOWED = '1 to 200 characters from A-Z a-z 0-9 . _ -';
const ms = 'milliseconds';

export const VARIABLE_SPECS = {
  KAFKA_BROKERS: {
    kind: 'text',
    default: undefined,
    required: true,
    description: 'Kafka bootstrap brokers.',
    allowed: 'a comma-separated list of host:port with port from 1 to 65535',
  },
  SCHEMA_REGISTRY_URL: {
    kind: 'text',
    default: undefined,
    required: true,
    description: 'Confluent-compatible schema registry.',
    allowed:
      'an http:// or https:// URL, optionally with a path such as /apis/ccompat/v7, without credentials, query or fragment',
  },
  APP_ID: {
    kind: 'text',
    default: undefined,
    description:
      'Consumer group id and transactional-id prefix; also names the state changelog topic (<APP_ID>-rollup-state-changelog). Required by run, lag, dlq and audit (two deployments never share a group by default); other commands use it in client ids only (eos-rollup when unset).',
    allowed: ID_ALLOWED,
  },
  INSTANCE_ID: {
    kind: 'text',
    default: undefined,
    description: 'This process in logs and lineage headers; unset means <hostname>-<pid>.',
    allowed: ID_ALLOWED,
  },
  STATIC_MEMBERSHIP: {
    kind: 'boolean',
    default: 'false',
    description: 'Static group membership under INSTANCE_ID (required).',
  },
  STREAM_THREADS: {
    kind: 'integer',
    default: '1',
    description:
      'Stages in this process, each a worker thread and group member (<INSTANCE_ID>-<n>); 2 uses a second core.',
    min: 1,
    max: 16,
  },
  INPUT_TOPIC: {
    kind: 'text',
    default: 'server-metrics',
    description: 'Avro ServerMetric records to roll up.',
    allowed: TOPIC_ALLOWED,
  },
  INVENTORY_TOPIC: {
    kind: 'text',
    default: 'host-inventory',
    description: 'Compacted Avro HostInfo table used for enrichment.',
    allowed: TOPIC_ALLOWED,
  },
  OUTPUT_TOPIC: {
    kind: 'text',
    default: 'server-metrics-rollup-1m',
    description: 'Avro MetricRollup records, one per (host, window).',
    allowed: TOPIC_ALLOWED,
  },
  DLQ_TOPIC: {
    kind: 'text',
    default: 'server-metrics-dlq',
    description: 'Dead-letter topic for records that can never succeed.',
    allowed: TOPIC_ALLOWED,
  },
  WINDOW_MS: {
    kind: 'integer',
    default: '60000',
    description: 'Tumbling window size, aligned to the epoch.',
    min: 1000,
    max: 86_400_000,
    unit: ms,
  },
  GRACE_MS: {
    kind: 'integer',
    default: '10000',
    description: 'How long after its end a window still accepts records.',
    min: 0,
    max: 864_000_000,
    unit: ms,
    relation: 'at most 10 times WINDOW_MS',
  },
  PROCESSING_GUARANTEE: {
    kind: 'choice',
    default: 'exactly_once',
    description:
      'exactly_once: one Kafka transaction per task commit (the product). at_least_once: no transactions; records are sent idempotently, then the offsets committed, so a crash may repeat output and DLQ records (Kafka Streams at_least_once). exactly_once_v2 is another name for exactly_once.',
    values: [...PROCESSING_GUARANTEES, ...Object.keys(PROCESSING_GUARANTEE_ALIASES)],
  },
  ON_PROCESS_CRASH: {
    kind: 'choice',
    default: 'quarantine',
    description:
      'A record that killed the process each time it was processed alone: quarantine pauses its partition at that offset (readyz, metric and log name it; `eos-rollup quarantine` resolves it); dead-letter sends it to the DLQ as processing-failed and goes on, risking a valid record whose crashes had another cause.',
    values: ON_PROCESS_CRASH_CHOICES,
  },
  COMMIT_INTERVAL_MS: {
    kind: 'integer',
    default: '100',
    description:
      "Commit a transaction (spanning fetched batches) this long after its first record; at once when output waits at the partition's end.",
    min: 10,
    max: 60_000,
    unit: ms,
  },
  COMMIT_MAX_RECORDS: {
    kind: 'integer',
    default: '20000',
    description:
      "Commit a transaction once this many input records are in it (a task's first: 5000 at most).",
    min: 1,
    max: 100_000,
    unit: 'records',
  },
  MAX_PARTITION_FETCH_BYTES: {
    kind: 'integer',
    default: '262144',
    description:
      "Kafka's max.partition.fetch.bytes for the input: the most one fetch takes from a partition (a larger batch still comes).",
    min: 1024,
    max: 10_485_760,
    unit: 'bytes',
  },
  TRANSACTION_TIMEOUT_MS: {
    kind: 'integer',
    default: '60000',
    description: "Transaction timeout; must not exceed the broker's transaction.max.timeout.ms.",
    min: 1000,
    max: 900_000,
    unit: ms,
    relation: 'at least 10 times COMMIT_INTERVAL_MS',
  },
  SESSION_TIMEOUT_MS: {
    kind: 'integer',
    default: '30000',
    description: 'Consumer group session timeout.',
    min: 1000,
    max: 300_000,
    unit: ms,
  },
  HEARTBEAT_INTERVAL_MS: {
    kind: 'integer',
    default: '3000',
    description: 'Consumer group heartbeat interval.',
    min: 100,
    max: 100_000,
    unit: ms,
    relation: 'at most a third of SESSION_TIMEOUT_MS',
  },
  REBALANCE_TIMEOUT_MS: {
    kind: 'integer',
    default: '60000',
    description: 'How long the group waits for members to rejoin during a rebalance.',
    min: 1000,
    max: 1_800_000,
    unit: ms,
  },
  IDLE_FLUSH_MS: {
    kind: 'integer',
    default: '0',
    description:
      'Advance stream time of a task that has seen no record for this long, so its last windows close.',
    min: 1000,
    max: 86_400_000,
    unit: ms,
    special: { value: 0, meaning: 'off' },
  },
  RESTORE_STABLE_WAIT_MS: {
    kind: 'integer',
    default: '60000',
    description:
      'How long a restore waits for an open transaction on its changelog partition to end; then the attempt fails and is retried, the partition not ready.',
    min: 1000,
    max: 3_600_000,
    unit: ms,
  },
  STATE_DIR: {
    kind: 'text',
    default: undefined,
    description: "Where tasks leave state checkpoints, so a restart reads only the changelog's tail.",
    allowed: 'a writable directory',
  },
  STATE_CHECKPOINT_INTERVAL_MS: {
    kind: 'integer',
    default: '10000',
    description:
      'With STATE_DIR: a running task writes its checkpoint after a commit at most this often, so a killed process restarts from a recent one.',
    min: 1000,
    max: 86_400_000,
    unit: ms,
    special: { value: 0, meaning: 'only at a clean stop' },
  },
  RETRY_BACKOFF_INITIAL_MS: {
    kind: 'integer',
    default: '100',
    description: 'First back-off after a retriable failure; doubles per attempt.',
    min: 1,
    max: 60_000,
    unit: ms,
  },
  RETRY_BACKOFF_MAX_MS: {
    kind: 'integer',
    default: '10000',
    description: 'Largest back-off after retriable failures.',
    min: 1,
    max: 600_000,
    unit: ms,
    relation: 'at least RETRY_BACKOFF_INITIAL_MS',
  },
  CIRCUIT_BREAKER_THRESHOLD: {
    kind: 'integer',
    default: '5',
    description: 'Consecutive retriable failures of a partition before it is paused and probed.',
    min: 1,
    max: 1000,
    unit: 'failures',
  },
  CIRCUIT_BREAKER_PROBE_MS: {
    kind: 'integer',
    // Kafka's own clients back off at most 1 s between retries (retry.backoff.max.ms): a partition paused through
    // a broker failover resumes within about a second of Kafka moving the role, not up to 5 s later.
    default: '1000',
    description: 'Time between probes of a paused partition.',
    min: 100,
    max: 3_600_000,
    unit: ms,
  },
  SHUTDOWN_TIMEOUT_MS: {
    kind: 'integer',
    default: '15000',
    description: 'Longest a clean stop may take before the process exits anyway.',
    min: 1000,
    max: 600_000,
    unit: ms,
  },
  TOPIC_REPLICATION_FACTOR: {
    kind: 'integer',
    default: '-1',
    description: 'Replication factor of the topics the stage creates.',
    min: 1,
    max: 32,
    special: { value: -1, meaning: 'broker default' },
  },
  DLQ_RETENTION_MS: {
    kind: 'integer',
    default: '2592000000',
    description: 'retention.ms of the dead-letter topic when the stage creates it (default 30 days).',
    min: 60_000,
    max: Number.MAX_SAFE_INTEGER,
    unit: ms,
    special: { value: -1, meaning: 'infinite' },
  },
  OUTPUT_RETENTION_MS: {
    kind: 'integer',
    default: '604800000',
    description: 'retention.ms of the output topic when the stage creates it (default 7 days).',
    min: 60_000,
    max: Number.MAX_SAFE_INTEGER,
    unit: ms,
    special: { value: -1, meaning: 'infinite' },
  },
  METRICS_PORT: {
    kind: 'integer',
    default: '9464',
    description: 'Port of the Prometheus /metrics and health endpoints.',
    min: 1,
    max: 65_535,
    special: { value: 0, meaning: 'off' },
  },
  LOG_LEVEL: {
    kind: 'choice',
    default: 'info',
    description: 'Log level.',
    values: LOG_LEVELS,
  },
  LOG_FORMAT: {
    kind: 'choice',
    default: 'auto',
    description:
      'json: one JSON object per line, with level names (for log shippers). pretty: one readable line per entry. auto: pretty on a terminal, json otherwise.',
    values: LOG_FORMATS,
  },
  KAFKA_CONNECTION_TIMEOUT_MS: {
    kind: 'integer',
    default: '1000',
    description:
      'How long to wait for a TCP (and TLS) connection to a broker; raise it across slow or distant networks.',
    min: 100,
    max: 120_000,
    unit: ms,
  },
  KAFKA_REQUEST_TIMEOUT_MS: {
    kind: 'integer',
    default: '30000',
    description: 'How long to wait for a broker to answer one request before the client gives it up.',
    min: 1000,
    max: 600_000,
    unit: ms,
  },
  KAFKA_SSL: {
    kind: 'boolean',
    default: 'false',
    description: 'Connect to the brokers over TLS.',
  },
  KAFKA_SSL_CA_FILE: {
    kind: 'text',
    default: undefined,
    description: "PEM file of the CA that signed the brokers' certificates (default: the system CAs).",
    allowed: 'a file path, with KAFKA_SSL=true',
  },
  KAFKA_SSL_CERT_FILE: {
    kind: 'text',
    default: undefined,
    description: 'PEM client certificate for mutual TLS.',
    allowed: 'a file path, with KAFKA_SSL=true and KAFKA_SSL_KEY_FILE',
  },
  KAFKA_SSL_KEY_FILE: {
    kind: 'text',
    default: undefined,
    description: 'PEM private key of the client certificate.',
    allowed: 'a file path, with KAFKA_SSL=true and KAFKA_SSL_CERT_FILE',
  },
  KAFKA_SSL_REJECT_UNAUTHORIZED: {
    kind: 'boolean',
    default: 'true',
    description: 'Reject brokers whose certificate does not verify.',
  },
  KAFKA_SASL_MECHANISM: {
    kind: 'choice',
    default: undefined,
    description: 'SASL mechanism; unset means no SASL.',
    values: SASL_MECHANISMS,
  },
  KAFKA_SASL_USERNAME: {
    kind: 'text',
    default: undefined,
    description: 'SASL user name.',
    allowed: 'any text; required when KAFKA_SASL_MECHANISM is set',
  },
  KAFKA_SASL_PASSWORD: {
    kind: 'text',
    default: undefined,
    description: 'SASL password (never logged).',
    allowed: 'any text; required when KAFKA_SASL_MECHANISM is set',
    secret: true,
  },
  SCHEMA_REGISTRY_USERNAME: {
    kind: 'text',
    default: undefined,
    description: 'Schema registry basic-auth user name.',
    allowed: 'any text; set together with SCHEMA_REGISTRY_PASSWORD',
  },
  SCHEMA_REGISTRY_PASSWORD: {
    kind: 'text',
    default: undefined,
    description: 'Schema registry basic-auth password (never logged).',
    allowed: 'any text; set together with SCHEMA_REGISTRY_USERNAME',
    secret: true,
  },
  SCHEMA_REGISTRY_CA_FILE: {
    kind: 'text',
    default: undefined,
    description: "PEM file of the CA that signed the registry's certificate (default: the system CAs).",
    allowed: 'a file path, with an https:// SCHEMA_REGISTRY_URL',
  },
  SCHEMA_REGISTRY_AUTO_REGISTER: {
    kind: 'boolean',
    default: 'true',
    description:
      'Register the output schema at start (with BACKWARD compatibility). false: use the MetricRollup schema already registered under <OUTPUT_TOPIC>-value (registries that forbid registration by applications); start fails, naming the subject, when it is not there.',
  },
  CONFIG_STRICT: {
    kind: 'boolean',
    default: 'false',
    description:
      'Refuse to start when a set variable looks like a misspelling of one of these (WINDOW_SIZE_MS for WINDOW_MS); false only warns.',
  },
  EOS_ROLLUP_FAULT: {
    kind: 'text',
    default: undefined,
    description: 'Test only: a fault to inject at a named point. Never set in production.',
    allowed: 'a fault spec understood by the test harness',
  },
  EOS_ROLLUP_BROKEN: {
    kind: 'choice',
    default: undefined,
    description:
      'Test only: run a deliberately broken variant of the stage, so the auditor can be shown to catch it (negative controls). Never set in production.',
    values: BROKEN_VARIANTS,
  },
} as const satisfies Record<string, VariableSpec>;

export type VariableName = keyof typeof VARIABLE_SPECS;

/** The allowed values of a variable as one phrase; ConfigError messages end with it. */
export function describeAllowed(spec: VariableSpec): string {
  switch (spec.kind) {
    case 'integer': {
      const unit = spec.unit === undefined ? '' : ` (${spec.unit})`;
      const range = `an integer from ${spec.min} to ${spec.max}${unit}`;
      const special = spec.special === undefined ? '' : `${spec.special.value} (${spec.special.meaning}) or `;
      const relation = spec.relation === undefined ? '' : `, ${spec.relation}`;
      return `${special}${range}${relation}`;
    }
    case 'boolean':
      return 'true or false';
    case 'choice':
      return `one of ${spec.values.join(', ')}`;
    case 'text':
      return spec.allowed;
  }
}

export interface ConfigVariable {
  readonly name: VariableName;
  readonly default: string | undefined;
  readonly description: string;
}

/** Every variable the stage reads, for `--help` and the README. */
export const CONFIG_VARIABLES: readonly ConfigVariable[] = Object.freeze(
  (Object.keys(VARIABLE_SPECS) as VariableName[]).map((name) => {
    const spec: VariableSpec = VARIABLE_SPECS[name];
    return Object.freeze({
      name,
      default: spec.default,
      description: `${spec.description} Allowed: ${describeAllowed(spec)}.`,
    });
  }),
);
