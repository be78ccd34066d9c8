/**
 * `eos-rollup config check`: everything the stage needs before it starts, checked without changing anything:
 * the settings, the broker, the registry, the topics (read-only), the ACLs that can be tested without side
 * effects, and TRANSACTION_TIMEOUT_MS against the broker's maximum. `eos-rollup config print`: the effective
 * settings, secrets redacted.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import type { Kafka } from 'kafkajs';
import {
  CONFIG_VARIABLES,
  configSecrets,
  loadConfig,
  misspelledVariables,
  type Config,
} from '../../config/config.js';
import { VARIABLE_SPECS } from '../../config/variables.js';
import { ConfigError } from '../../errors/errors.js';
import { readPemFile } from '../../config/pem-file.js';
import { processingAttemptsTopic } from '../../kafka/stage/attempt-journal.js';
import { createKafka } from '../../kafka/client/client.js';
import { checkTransactionTimeout, inspectTopics } from '../../kafka/stage/topics.js';
import { translateKafkaError } from '../../kafka/client/translate-error.js';
import {
  effectiveSettings,
  formatCheckLine,
  runLiveChecks,
  settingsLines,
  type LiveProbes,
  type SettingRow,
} from '../../ops/config-check.js';
import {
  booleanOption,
  dispatchSubcommand,
  helpText,
  parseCommandArgs,
  type CommandSpec,
} from '../arguments.js';
import { commandLogger } from '../command-logger.js';
import { CommandError, EXIT } from '../exit.js';

const USAGE = `usage: eos-rollup config check
       eos-rollup config print [--json]`;

const DETAILS = `check  validates the settings (one line per problem, naming its variable; misspelled variables are
       warnings, problems with CONFIG_STRICT=true), then reaches the broker (KAFKA_BROKERS) and the registry
       (GET SCHEMA_REGISTRY_URL/subjects), checks the topics read-only (INPUT_TOPIC and INVENTORY_TOPIC exist; an
       existing changelog or processing-attempts topic has the input's partition count; the changelog is
       compacted), the ACLs (group describe, topic describe, the transactional id <APP_ID>-config-check) and
       TRANSACTION_TIMEOUT_MS against the broker's transaction.max.timeout.ms. Nothing is created or changed.
       Exit 0: all pass; 3: a settings problem; 1: another problem.
print  the effective settings (defaults included), secrets redacted, as NAME=value in the order of
       eos-rollup --help, or one JSON object with --json.`;

const SPEC = { command: 'config', usage: USAGE, details: DETAILS };
const CHECK_SPEC: CommandSpec = { ...SPEC, command: 'config check', options: {} };
const PRINT_SPEC: CommandSpec = { ...SPEC, command: 'config print', options: { json: { type: 'boolean' } } };

/** Short, so a wrong URL fails the check promptly instead of hanging the command. */
const REGISTRY_TIMEOUT_MS = 10_000;
/** The probe's own transactional id: the stage never uses it, so InitProducerId on it fences no task. */
const PROBE_TRANSACTION_TIMEOUT_MS = 10_000;

export async function configCommand(args: string[]): Promise<number> {
  return dispatchSubcommand({ spec: SPEC, run: { check, print } }, args);
}

const SETTINGS_TABLE: readonly SettingRow[] = CONFIG_VARIABLES.map((v) => {
  const spec = VARIABLE_SPECS[v.name];
  return { name: v.name, default: v.default, secret: 'secret' in spec && spec.secret };
});

function print(args: string[]): Promise<number> {
  const parsed = parseCommandArgs(PRINT_SPEC, args);
  if (parsed === 'help') {
    console.log(helpText(SPEC));
    return Promise.resolve(EXIT.ok);
  }
  const config = loadConfig(process.env);
  const settings = effectiveSettings(SETTINGS_TABLE, process.env, configSecrets(config));
  if (booleanOption(parsed, 'json')) console.log(JSON.stringify(Object.fromEntries(settings), null, 2));
  else for (const [name, value] of settings) console.log(`${name}=${value}`);
  return Promise.resolve(EXIT.ok);
}

async function check(args: string[]): Promise<number> {
  if (parseCommandArgs(CHECK_SPEC, args) === 'help') {
    console.log(helpText(SPEC));
    return EXIT.ok;
  }
  let config: Config | undefined;
  let problems: readonly string[] = [];
  try {
    config = loadConfig(process.env, { requireAppId: true });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems = error.problems;
  }
  if (config !== undefined) {
    for (const warning of misspelledVariables(process.env)) console.log(`warning settings: ${warning}`);
  }
  for (const line of settingsLines(problems, config?.appId ?? '')) console.log(formatCheckLine(line));
  if (config === undefined) return EXIT.config;
  const lines = await runLiveChecks(probes(config));
  for (const line of lines) console.log(formatCheckLine(line));
  const failed = lines.filter((l) => !l.ok).length;
  console.log(failed === 0 ? 'config check: all checks passed' : `config check: ${failed} problem(s)`);
  return failed === 0 ? EXIT.ok : EXIT.failure;
}

function probes(config: Config): LiveProbes {
  const logger = commandLogger(config, { quietInfo: true });
  const kafka = createKafka(config.kafka, `${config.appId}-config-check`, logger, { quietRetries: true });
  return {
    broker: () => brokerProbe(kafka),
    registry: () => probeRegistry(config),
    topics: async () => {
      const problems = await inspectTopics(kafka, config);
      if (problems.length > 0) throw new Error(problems.join('\n'));
      return `${config.topics.input} and ${config.topics.inventory} exist; changelog and attempts topics fit`;
    },
    acls: () => aclProbe(kafka, config),
    transactionTimeout: async () => {
      await checkTransactionTimeout(kafka, config.transactionTimeoutMs);
      return `TRANSACTION_TIMEOUT_MS=${config.transactionTimeoutMs} is within the broker's transaction.max.timeout.ms`;
    },
  };
}

async function brokerProbe(kafka: Kafka): Promise<string> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return `cluster ${cluster.clusterId}, ${cluster.brokers.length} broker(s)`;
  } catch (error) {
    throw translateKafkaError(error, 'reaching the broker');
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** Topic describe (metadata), group describe (an offset fetch) and the transactional-id ACL (InitProducerId). */
async function aclProbe(kafka: Kafka, config: Config): Promise<string> {
  const { topics, appId } = config;
  const admin = kafka.admin();
  try {
    await admin.connect();
    const existing = new Set(await admin.listTopics());
    const described = [topics.input, topics.inventory, topics.output, topics.dlq, topics.changelog]
      .concat(processingAttemptsTopic(appId))
      .filter((t) => existing.has(t));
    await admin.fetchTopicMetadata({ topics: described });
    await admin.fetchOffsets({
      groupId: appId,
      topics: described.includes(topics.input) ? [topics.input] : [],
    });
  } catch (error) {
    throw translateKafkaError(error, `describing topics and group ${appId} (APP_ID)`);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  const transactionalId = `${appId}-config-check`;
  const producer = kafka.producer({
    transactionalId,
    idempotent: true,
    maxInFlightRequests: 1,
    transactionTimeout: PROBE_TRANSACTION_TIMEOUT_MS,
  });
  try {
    await producer.connect();
    // connect() initializes only the idempotent side; transaction() sends InitProducerId with the
    // transactional id, the request the ACL guards. Aborting a transaction that sent nothing sends no EndTxn.
    const transaction = await producer.transaction();
    await transaction.abort();
  } catch (error) {
    throw translateKafkaError(error, `InitProducerId for transactional id ${transactionalId} (APP_ID)`);
  } finally {
    await producer.disconnect().catch(() => undefined);
  }
  return `describe on the stage's existing topics, describe on group ${appId}, write on transactional id ${transactionalId}`;
}

/**
 * A registry that gave no answer is asked once more on a fresh connection: one lost answer is not a wrong URL.
 * Apicurio 3.3 closes about one connection in a thousand without an answer ("socket hang up"), more often on
 * an unknown path.
 */
async function probeRegistry(config: Config): Promise<string> {
  try {
    return await registryProbe(config);
  } catch (error) {
    if (!(error instanceof RegistryNoAnswer)) throw error;
    return registryProbe(config);
  }
}

class RegistryNoAnswer extends CommandError {}

function registryProbe(config: Config): Promise<string> {
  const { url, auth, caFile } = config.registry;
  const target = new URL(`${url.replace(/\/+$/, '')}/subjects`);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (auth) {
    headers.authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
  }
  const isHttps = target.protocol === 'https:';
  const agent =
    isHttps && caFile ? new Agent({ ca: readPemFile('SCHEMA_REGISTRY_CA_FILE', caFile) }) : undefined;
  return new Promise((resolve, reject) => {
    const onResponse = (response: IncomingMessage) => {
      const status = response.statusCode ?? 0;
      if (status !== 200) {
        // The status decides: the body of an error page is not needed, and a server may never finish sending it.
        req.destroy();
        reject(new CommandError(refusal(url, status)));
        return;
      }
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => {
        const subjects = safeLength(body);
        resolve(`${url} answers, ${subjects === undefined ? 'subjects listed' : `${subjects} subject(s)`}`);
      });
    };
    const options = { headers, timeout: REGISTRY_TIMEOUT_MS, agent: agent ?? false };
    const req = isHttps
      ? httpsRequest(target, options, onResponse)
      : httpRequest(target, options, onResponse);
    const unreachable = (reason: string) =>
      `registry ${url} (SCHEMA_REGISTRY_URL) cannot be reached: ${reason}`;
    req.on('timeout', () => {
      reject(new RegistryNoAnswer(unreachable(`no answer within ${REGISTRY_TIMEOUT_MS} ms`)));
      req.destroy();
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      // ECONNRESET before any response: the server took the connection and closed it without answering.
      const noAnswer = error.code === 'ECONNRESET';
      reject(new (noAnswer ? RegistryNoAnswer : CommandError)(unreachable(error.message)));
    });
    req.end();
  });
}

function refusal(url: string, status: number): string {
  return status === 401 || status === 403
    ? `registry ${url} refused GET /subjects (HTTP ${status}): check SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD`
    : `registry ${url} answered GET /subjects with HTTP ${status}: is SCHEMA_REGISTRY_URL the registry's API root?`;
}

function safeLength(body: string): number | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    return Array.isArray(parsed) ? parsed.length : undefined;
  } catch {
    return undefined;
  }
}
