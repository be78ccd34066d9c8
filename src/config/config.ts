import { hostname } from 'node:os';
import { ConfigError } from '../errors/errors.js';
import { EnvReader } from './env-reader.js';
import { unknownVariables } from './suggest.js';
import {
  BROKEN_VARIANTS,
  LOG_FORMATS,
  LOG_LEVELS,
  ON_PROCESS_CRASH_CHOICES,
  PROCESSING_GUARANTEES,
  PROCESSING_GUARANTEE_ALIASES,
  SASL_MECHANISMS,
  VARIABLE_SPECS,
  type BrokenVariant,
  type LogFormat,
  type LogLevel,
  type OnProcessCrash,
  type ProcessingGuarantee,
  type SaslMechanism,
  type VariableName,
} from './variables.js';

export {
  CONFIG_VARIABLES,
  type BrokenVariant,
  type ConfigVariable,
  type LogFormat,
  type LogLevel,
  type ProcessingGuarantee,
  type SaslMechanism,
} from './variables.js';

export interface SslConfig {
  readonly rejectUnauthorized: boolean;
  readonly caFile: string | undefined;
  readonly certFile: string | undefined;
  readonly keyFile: string | undefined;
}

export interface SaslConfig {
  readonly mechanism: SaslMechanism;
  readonly username: string;
  readonly password: string;
}

export interface KafkaConfig {
  readonly brokers: readonly string[];
  /** undefined: plaintext. */
  readonly ssl: SslConfig | undefined;
  /** undefined: no SASL. */
  readonly sasl: SaslConfig | undefined;
  readonly connectionTimeoutMs: number;
  readonly requestTimeoutMs: number;
}

export interface RegistryAuth {
  readonly username: string;
  readonly password: string;
}

export interface RegistryConfig {
  /** Without a trailing slash, so the client can append paths. */
  readonly url: string;
  readonly auth: RegistryAuth | undefined;
  /** undefined: an https registry is verified against the system CAs. */
  readonly caFile: string | undefined;
  /** false: the output schema must already be registered; the stage only looks its id up. */
  readonly autoRegister: boolean;
}

export interface TopicsConfig {
  readonly input: string;
  readonly inventory: string;
  readonly output: string;
  readonly dlq: string;
  /** `${appId}-rollup-state-changelog`; derived, not configurable, so every instance of an app agrees on it. */
  readonly changelog: string;
}

export interface WindowsConfig {
  readonly sizeMs: number;
  readonly graceMs: number;
}

export interface CommitConfig {
  readonly intervalMs: number;
  readonly maxRecords: number;
}

export interface RetryConfig {
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
}

export interface CircuitBreakerConfig {
  readonly threshold: number;
  readonly probeIntervalMs: number;
}

export interface TopicSettingsConfig {
  /** -1: the broker's default.replication.factor. */
  readonly replicationFactor: number;
  /** -1: infinite. */
  readonly dlqRetentionMs: number;
  /** -1: infinite. */
  readonly outputRetentionMs: number;
}

export interface Config {
  readonly appId: string;
  /** undefined: `instanceIdOf` fills in `${hostname}-${pid}` (loading the config asks the machine nothing). */
  readonly instanceId: string | undefined;
  /** The input consumer's group.instance.id (STATIC_MEMBERSHIP); undefined: dynamic membership. */
  readonly groupInstanceId: string | undefined;
  /** Worker threads of this process, each its own stage and group member (src/app/stream-threads.ts). */
  readonly streamThreads: number;
  readonly kafka: KafkaConfig;
  readonly registry: RegistryConfig;
  readonly topics: TopicsConfig;
  readonly windows: WindowsConfig;
  readonly processingGuarantee: ProcessingGuarantee;
  readonly onProcessCrash: OnProcessCrash;
  readonly commit: CommitConfig;
  /** The input consumer's per-partition fetch limit (design §24, "How much a fetch takes"). */
  readonly maxPartitionFetchBytes: number;
  readonly transactionTimeoutMs: number;
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly rebalanceTimeoutMs: number;
  /** 0: off. */
  readonly idleFlushMs: number;
  readonly restoreStableWaitMs: number;
  /** undefined: no local state checkpoints. Checked to be a writable directory at start (config does no I/O). */
  readonly stateDir: string | undefined;
  /** 0: checkpoints at a clean close only. */
  readonly checkpointIntervalMs: number;
  readonly retry: RetryConfig;
  readonly circuitBreaker: CircuitBreakerConfig;
  readonly shutdownTimeoutMs: number;
  readonly topicSettings: TopicSettingsConfig;
  /** 0: no metrics endpoint. */
  readonly metricsPort: number;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  /** Test-only fault injection switch, raw; interpreted by the test harness hooks, not here. */
  readonly faultSpec: string | undefined;
  /** Test-only negative control: a deliberately broken variant of the stage. */
  readonly brokenVariant: BrokenVariant | undefined;
}

/** INSTANCE_ID, or this process as `<hostname>-<pid>` when it is unset. */
export function instanceIdOf(config: Pick<Config, 'instanceId'>): string {
  return config.instanceId ?? `${hostname()}-${process.pid}`;
}

const ID = /^[A-Za-z0-9._-]{1,200}$/;
const TOPIC = /^[A-Za-z0-9._-]{1,249}$/;
const HOST = /^[A-Za-z0-9._-]+$/;
const PORT = /^[1-9][0-9]{0,4}$/;
/** Transactions must survive several commit intervals, or a short hiccup times them out and fences the task. */
const MIN_COMMIT_INTERVALS_PER_TRANSACTION = 10;
const MAX_GRACE_WINDOWS = 10;
/** The Kafka default of a third: two heartbeats may be lost before the session expires. */
const MIN_HEARTBEATS_PER_SESSION = 3;

/**
 * Turns the environment into one frozen, typed Config, or throws a ConfigError listing every problem found.
 * Pure: it reads only the `env` it is given.
 */
const VARIABLE_NAMES = Object.keys(VARIABLE_SPECS);

/** One line per set variable that looks like a misspelling of a setting: warned at start, refused if strict. */
export function misspelledVariables(env: Readonly<Record<string, string | undefined>>): string[] {
  return unknownVariables(env, VARIABLE_NAMES).map(
    ({ name, meant }) => `${name} is not an eos-rollup setting and is ignored: did you mean ${meant}?`,
  );
}

function readAppId(r: EnvReader, required: boolean): string {
  if (r.isSet('APP_ID')) return r.matching('APP_ID', (v) => ID.test(v));
  if (!required) return CLIENT_ID_WITHOUT_APP_ID;
  r.problem(
    'APP_ID',
    'APP_ID is required: it is the consumer group and the transactional-id prefix, and two deployments left on a default would share them; expected 1 to 200 characters from A-Z a-z 0-9 . _ -',
  );
  return '';
}

function readProcessingGuarantee(r: EnvReader): ProcessingGuarantee {
  const names = [...PROCESSING_GUARANTEES, ...Object.keys(PROCESSING_GUARANTEE_ALIASES)];
  const chosen = r.choice('PROCESSING_GUARANTEE', names) ?? 'exactly_once';
  return PROCESSING_GUARANTEE_ALIASES[chosen] ?? (chosen as ProcessingGuarantee);
}

/** The client-id prefix of commands that do not act for a group, when APP_ID is unset. */
const CLIENT_ID_WITHOUT_APP_ID = 'eos-rollup';

export interface LoadOptions {
  /** The command acts as or for the group (run, lag, dlq, audit): APP_ID must be given, never defaulted. */
  readonly requireAppId?: boolean;
}

export function loadConfig(
  env: Readonly<Record<string, string | undefined>>,
  options: LoadOptions = {},
): Config {
  const r = new EnvReader(env);

  // Read in the order of the variable table, so problems are listed in the order the README documents them.
  const brokers = readBrokers(r);
  const registryUrl = readRegistryUrl(r);
  const appId = readAppId(r, options.requireAppId ?? false);
  const instanceId = r.isSet('INSTANCE_ID') ? r.matching('INSTANCE_ID', (v) => ID.test(v)) : undefined;
  const groupInstanceId = readGroupInstanceId(r, instanceId);
  const streamThreads = r.integer('STREAM_THREADS');
  const topics = readTopics(r, appId);

  const windows = readWindows(r);
  const processingGuarantee = readProcessingGuarantee(r);
  const onProcessCrash = r.choice('ON_PROCESS_CRASH', ON_PROCESS_CRASH_CHOICES) ?? 'quarantine';
  const commit = readCommit(r);
  const maxPartitionFetchBytes = r.integer('MAX_PARTITION_FETCH_BYTES');
  const transactionTimeoutMs = readTransactionTimeout(r, commit);
  const sessionTimeoutMs = r.integer('SESSION_TIMEOUT_MS');
  const heartbeatIntervalMs = readHeartbeatInterval(r, sessionTimeoutMs);
  const rebalanceTimeoutMs = r.integer('REBALANCE_TIMEOUT_MS');
  const idleFlushMs = r.integer('IDLE_FLUSH_MS');
  const restoreStableWaitMs = r.integer('RESTORE_STABLE_WAIT_MS');
  const stateDir = r.optionalText('STATE_DIR');
  const checkpointIntervalMs = r.integer('STATE_CHECKPOINT_INTERVAL_MS');
  const retry = readRetry(r);
  const circuitBreaker = {
    threshold: r.integer('CIRCUIT_BREAKER_THRESHOLD'),
    probeIntervalMs: r.integer('CIRCUIT_BREAKER_PROBE_MS'),
  };
  const shutdownTimeoutMs = r.integer('SHUTDOWN_TIMEOUT_MS');
  const topicSettings = {
    replicationFactor: r.integer('TOPIC_REPLICATION_FACTOR'),
    dlqRetentionMs: r.integer('DLQ_RETENTION_MS'),
    outputRetentionMs: r.integer('OUTPUT_RETENTION_MS'),
  };
  const metricsPort = r.integer('METRICS_PORT');
  const logLevel = r.choice('LOG_LEVEL', LOG_LEVELS) ?? 'info';
  const logFormat = r.choice('LOG_FORMAT', LOG_FORMATS) ?? 'auto';
  const connectionTimeoutMs = r.integer('KAFKA_CONNECTION_TIMEOUT_MS');
  const requestTimeoutMs = r.integer('KAFKA_REQUEST_TIMEOUT_MS');
  const ssl = readSsl(r);
  const sasl = readSasl(r);
  const registryAuth = readRegistryAuth(r);
  const registryCaFile = readRegistryCaFile(r, registryUrl);
  const autoRegister = r.boolean('SCHEMA_REGISTRY_AUTO_REGISTER');
  const faultSpec = r.optionalText('EOS_ROLLUP_FAULT');
  const brokenVariant = r.choice('EOS_ROLLUP_BROKEN', BROKEN_VARIANTS);
  if (r.boolean('CONFIG_STRICT')) {
    for (const message of misspelledVariables(env)) r.problem('CONFIG_STRICT', message);
  }

  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return deepFreeze<Config>({
    appId,
    instanceId,
    groupInstanceId,
    streamThreads,
    kafka: { brokers, ssl, sasl, connectionTimeoutMs, requestTimeoutMs },
    registry: { url: registryUrl, auth: registryAuth, caFile: registryCaFile, autoRegister },
    topics,
    windows,
    processingGuarantee,
    onProcessCrash,
    commit,
    maxPartitionFetchBytes,
    transactionTimeoutMs,
    sessionTimeoutMs,
    heartbeatIntervalMs,
    rebalanceTimeoutMs,
    idleFlushMs,
    restoreStableWaitMs,
    stateDir,
    checkpointIntervalMs,
    retry,
    circuitBreaker,
    shutdownTimeoutMs,
    topicSettings,
    metricsPort,
    logLevel,
    logFormat,
    faultSpec,
    brokenVariant,
  });
}

const REDACTED = '[redacted]';

/** Every secret value in the config, for the logger's last check on each line it writes. */
export function configSecrets(config: Config): string[] {
  return [config.kafka.sasl?.password, config.registry.auth?.password].filter(
    (secret): secret is string => secret !== undefined,
  );
}

/** A copy safe for a startup log line: every password is replaced, whatever object holds it. */
export function redactConfig(config: Config): unknown {
  return redact(config);
}

function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value === null || typeof value !== 'object') return value;
  const copy: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    copy[key] = key === 'password' && field !== undefined ? REDACTED : redact(field);
  }
  return copy;
}

function readWindows(r: EnvReader): WindowsConfig {
  const sizeMs = r.integer('WINDOW_MS');
  const graceMs = r.integer('GRACE_MS');
  if (r.isValid('WINDOW_MS', 'GRACE_MS') && graceMs > sizeMs * MAX_GRACE_WINDOWS) {
    r.reject('GRACE_MS', `at most ${MAX_GRACE_WINDOWS} times WINDOW_MS (${sizeMs * MAX_GRACE_WINDOWS})`);
  }
  return { sizeMs, graceMs };
}

function readCommit(r: EnvReader): CommitConfig {
  return { intervalMs: r.integer('COMMIT_INTERVAL_MS'), maxRecords: r.integer('COMMIT_MAX_RECORDS') };
}

function readTransactionTimeout(r: EnvReader, commit: CommitConfig): number {
  const timeoutMs = r.integer('TRANSACTION_TIMEOUT_MS');
  const minTimeoutMs = commit.intervalMs * MIN_COMMIT_INTERVALS_PER_TRANSACTION;
  if (r.isValid('COMMIT_INTERVAL_MS', 'TRANSACTION_TIMEOUT_MS') && timeoutMs < minTimeoutMs) {
    r.reject(
      'TRANSACTION_TIMEOUT_MS',
      `at least ${MIN_COMMIT_INTERVALS_PER_TRANSACTION} times COMMIT_INTERVAL_MS (${minTimeoutMs}), ` +
        'so a transaction outlasts several commit intervals',
    );
  }
  return timeoutMs;
}

/**
 * Opt-in, not implied by INSTANCE_ID: a static member's clean stop leaves its partitions idle until its session
 * times out, and two processes sharing the id stop one of them, so deployments that set INSTANCE_ID only to name
 * their logs keep today's behaviour. A made-up <hostname>-<pid> would differ after every restart: useless here.
 */
function readGroupInstanceId(r: EnvReader, instanceId: string | undefined): string | undefined {
  if (!r.boolean('STATIC_MEMBERSHIP')) return undefined;
  if (!r.isSet('INSTANCE_ID')) {
    r.problem(
      'STATIC_MEMBERSHIP',
      'STATIC_MEMBERSHIP=true needs INSTANCE_ID, a name that stays the same across restarts',
    );
  }
  return instanceId;
}

function readHeartbeatInterval(r: EnvReader, sessionTimeoutMs: number): number {
  const intervalMs = r.integer('HEARTBEAT_INTERVAL_MS');
  if (
    r.isValid('SESSION_TIMEOUT_MS', 'HEARTBEAT_INTERVAL_MS') &&
    intervalMs * MIN_HEARTBEATS_PER_SESSION > sessionTimeoutMs
  ) {
    const maxIntervalMs = Math.floor(sessionTimeoutMs / MIN_HEARTBEATS_PER_SESSION);
    r.reject('HEARTBEAT_INTERVAL_MS', `at most a third of SESSION_TIMEOUT_MS (${maxIntervalMs})`);
  }
  return intervalMs;
}

function readRetry(r: EnvReader): RetryConfig {
  const initialBackoffMs = r.integer('RETRY_BACKOFF_INITIAL_MS');
  const maxBackoffMs = r.integer('RETRY_BACKOFF_MAX_MS');
  if (r.isValid('RETRY_BACKOFF_INITIAL_MS', 'RETRY_BACKOFF_MAX_MS') && maxBackoffMs < initialBackoffMs) {
    r.reject('RETRY_BACKOFF_MAX_MS', `at least RETRY_BACKOFF_INITIAL_MS (${initialBackoffMs})`);
  }
  return { initialBackoffMs, maxBackoffMs };
}

function readTopics(r: EnvReader, appId: string): TopicsConfig {
  const isTopic = (v: string): boolean => TOPIC.test(v) && v !== '.' && v !== '..';
  const topics: TopicsConfig = {
    input: r.matching('INPUT_TOPIC', isTopic),
    inventory: r.matching('INVENTORY_TOPIC', isTopic),
    output: r.matching('OUTPUT_TOPIC', isTopic),
    dlq: r.matching('DLQ_TOPIC', isTopic),
    changelog: `${appId}-rollup-state-changelog`,
  };
  const named = [
    ['INPUT_TOPIC', topics.input],
    ['INVENTORY_TOPIC', topics.inventory],
    ['OUTPUT_TOPIC', topics.output],
    ['DLQ_TOPIC', topics.dlq],
  ] as const;

  // Blame the later variable of a clashing pair: the earlier one is the more fundamental (input before output).
  named.forEach(([name, topic], index) => {
    if (!r.isValid(name)) return;
    const clash = named
      .slice(0, index)
      .find(([other, otherTopic]) => r.isValid(other) && otherTopic === topic);
    if (clash !== undefined) {
      r.reject(name, `a topic different from ${clash[0]}`);
    } else if (topic === topics.changelog && r.isValid('APP_ID')) {
      r.reject(name, 'a topic different from the state changelog topic, which is derived from APP_ID');
    }
  });
  return topics;
}

function readBrokers(r: EnvReader): readonly string[] {
  const value = r.text('KAFKA_BROKERS');
  if (!r.isSet('KAFKA_BROKERS')) return [];
  // Spaces after commas are common in hand-written lists and cannot be meant as part of a host name.
  const brokers = value.split(',').map((broker) => broker.trim());
  if (!brokers.every(isHostPort)) r.reject('KAFKA_BROKERS');
  return brokers;
}

function isHostPort(broker: string): boolean {
  // kafkajs splits on ':' itself, so bracketed IPv6 literals would not work anyway.
  const parts = broker.split(':');
  if (parts.length !== 2) return false;
  const [host = '', port = ''] = parts;
  return HOST.test(host) && PORT.test(port) && Number(port) <= 65_535;
}

function readRegistryUrl(r: EnvReader): string {
  const value = r.text('SCHEMA_REGISTRY_URL');
  if (r.isSet('SCHEMA_REGISTRY_URL')) {
    const parsed = URL.canParse(value) ? new URL(value) : undefined;
    // A URL may carry a password (user:pw@host), parseable or not; such a value must never be echoed.
    if (value.includes('@')) {
      r.problem(
        'SCHEMA_REGISTRY_URL',
        'SCHEMA_REGISTRY_URL contains credentials, which are not allowed (value not shown): ' +
          'expected SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD instead',
      );
    } else if (
      parsed === undefined ||
      (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') ||
      parsed.hostname === '' ||
      value.includes('?') ||
      value.includes('#')
    ) {
      r.reject('SCHEMA_REGISTRY_URL');
    } else {
      return value.replace(/\/+$/, '');
    }
  }
  return value;
}

function readRegistryAuth(r: EnvReader): RegistryAuth | undefined {
  const username = r.optionalText('SCHEMA_REGISTRY_USERNAME');
  const password = r.optionalText('SCHEMA_REGISTRY_PASSWORD');
  if (username !== undefined && password !== undefined) return { username, password };
  if (username !== undefined) missing(r, 'SCHEMA_REGISTRY_USERNAME', 'SCHEMA_REGISTRY_PASSWORD');
  if (password !== undefined) missing(r, 'SCHEMA_REGISTRY_PASSWORD', 'SCHEMA_REGISTRY_USERNAME');
  return undefined;
}

function readRegistryCaFile(r: EnvReader, registryUrl: string): string | undefined {
  const caFile = r.optionalText('SCHEMA_REGISTRY_CA_FILE');
  // Like a TLS file with KAFKA_SSL off: the operator believes the registry connection is verified when it is not.
  const isHttps = URL.canParse(registryUrl) && new URL(registryUrl).protocol === 'https:';
  if (caFile !== undefined && r.isValid('SCHEMA_REGISTRY_URL') && !isHttps) {
    r.problem(
      'SCHEMA_REGISTRY_CA_FILE',
      'SCHEMA_REGISTRY_CA_FILE is set but SCHEMA_REGISTRY_URL is not https://: ' +
        'expected an https:// SCHEMA_REGISTRY_URL, or SCHEMA_REGISTRY_CA_FILE unset',
    );
  }
  return caFile;
}

function readSsl(r: EnvReader): SslConfig | undefined {
  const enabled = r.boolean('KAFKA_SSL');
  const rejectUnauthorized = r.boolean('KAFKA_SSL_REJECT_UNAUTHORIZED');
  const caFile = r.optionalText('KAFKA_SSL_CA_FILE');
  const certFile = r.optionalText('KAFKA_SSL_CERT_FILE');
  const keyFile = r.optionalText('KAFKA_SSL_KEY_FILE');

  if (certFile !== undefined && keyFile === undefined) {
    missing(r, 'KAFKA_SSL_CERT_FILE', 'KAFKA_SSL_KEY_FILE');
  }
  if (keyFile !== undefined && certFile === undefined) {
    missing(r, 'KAFKA_SSL_KEY_FILE', 'KAFKA_SSL_CERT_FILE');
  }
  if (enabled) return { rejectUnauthorized, caFile, certFile, keyFile };

  // A certificate given with TLS off means the operator believes the connection is encrypted when it is not.
  const files = ['KAFKA_SSL_CA_FILE', 'KAFKA_SSL_CERT_FILE', 'KAFKA_SSL_KEY_FILE'] as const;
  if (r.isValid('KAFKA_SSL')) {
    for (const name of files.filter((file) => r.isSet(file))) {
      r.problem(name, `${name} is set but KAFKA_SSL is not true: expected KAFKA_SSL=true, or ${name} unset`);
    }
  }
  return undefined;
}

function readSasl(r: EnvReader): SaslConfig | undefined {
  const mechanism = r.choice('KAFKA_SASL_MECHANISM', SASL_MECHANISMS);
  const username = r.optionalText('KAFKA_SASL_USERNAME');
  const password = r.optionalText('KAFKA_SASL_PASSWORD');

  if (mechanism !== undefined) {
    if (username !== undefined && password !== undefined) return { mechanism, username, password };
    for (const name of ['KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD'] as const) {
      if (!r.isSet(name)) missing(r, 'KAFKA_SASL_MECHANISM', name);
    }
    return undefined;
  }
  // Credentials without a mechanism: the operator meant SASL and would otherwise connect without it.
  if (!r.isValid('KAFKA_SASL_MECHANISM') || (username === undefined && password === undefined))
    return undefined;
  if (username === undefined) missing(r, 'KAFKA_SASL_PASSWORD', 'KAFKA_SASL_USERNAME');
  missing(r, username === undefined ? 'KAFKA_SASL_PASSWORD' : 'KAFKA_SASL_USERNAME', 'KAFKA_SASL_MECHANISM');
  return undefined;
}

/** "A is set but B is missing": names both, quotes neither, since either may be a secret. */
function missing(r: EnvReader, present: VariableName, absent: VariableName): void {
  r.problem(present, `${present} is set but ${absent} is missing`);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const field of Object.values(value)) deepFreeze(field);
    Object.freeze(value);
  }
  return value;
}
