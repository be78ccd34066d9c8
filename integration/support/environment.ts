/**
 * Where integration tests find a real broker and registry. One decision, in this order:
 * 1. KAFKA_BROKERS and SCHEMA_REGISTRY_URL given → use them (an existing cluster, or the runner's choice);
 * 2. a Docker engine reachable (asked of testcontainers' runtime client) → cp-kafka and cp-schema-registry containers;
 * 3. otherwise the local stack (scripts/stack), started if needed and stopped afterwards only if started here.
 * There is no fourth branch: without a broker the tests fail, they never skip.
 */
import { KafkaContainer } from '@testcontainers/kafka';
import {
  GenericContainer,
  Network,
  Wait,
  getContainerRuntimeClient,
  type StartedNetwork,
  type StartedTestContainer,
} from 'testcontainers';
import { down as stackDown, up as stackUp } from '../../scripts/stack/local-stack.js';

export type EnvironmentKind = 'given' | 'testcontainers' | 'local-stack';

export interface TestEnvironment {
  kind: EnvironmentKind;
  brokers: string;
  registryUrl: string;
  release(): Promise<void>;
}

/** Confluent Platform 8.1 ships Apache Kafka 4.1, the version stack/pom.xml pins. */
const CP_VERSION = '8.1.0';

async function dockerReachable(): Promise<boolean> {
  try {
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

async function startContainers(): Promise<TestEnvironment> {
  const network: StartedNetwork = await new Network().start();
  const kafka = await new KafkaContainer(`confluentinc/cp-kafka:${CP_VERSION}`)
    .withNetwork(network)
    .withNetworkAliases('kafka')
    .withEnvironment({
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
      KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
      KAFKA_GROUP_MIN_SESSION_TIMEOUT_MS: '500',
    })
    .start();
  const registry: StartedTestContainer = await new GenericContainer(
    `confluentinc/cp-schema-registry:${CP_VERSION}`,
  )
    .withNetwork(network)
    .withExposedPorts(8081)
    .withEnvironment({
      SCHEMA_REGISTRY_HOST_NAME: 'schema-registry',
      SCHEMA_REGISTRY_LISTENERS: 'http://0.0.0.0:8081',
      SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS: 'PLAINTEXT://kafka:9092',
    })
    .withWaitStrategy(Wait.forHttp('/subjects', 8081).forStatusCode(200))
    .start();
  return {
    kind: 'testcontainers',
    brokers: `${kafka.getHost()}:${kafka.getMappedPort(9093)}`,
    registryUrl: `http://${registry.getHost()}:${registry.getMappedPort(8081)}`,
    release: async () => {
      await registry.stop();
      await kafka.stop();
      await network.stop();
    },
  };
}

export async function acquireEnvironment(
  log: (line: string) => void = console.log,
): Promise<TestEnvironment> {
  const givenBrokers = process.env.KAFKA_BROKERS;
  const givenRegistry = process.env.SCHEMA_REGISTRY_URL;
  if (givenBrokers && givenRegistry) {
    return {
      kind: 'given',
      brokers: givenBrokers,
      registryUrl: givenRegistry,
      release: () => Promise.resolve(),
    };
  }
  if (givenBrokers || givenRegistry) {
    throw new Error('set both KAFKA_BROKERS and SCHEMA_REGISTRY_URL, or neither');
  }
  if (await dockerReachable()) {
    log('integration: Docker engine reachable; starting cp-kafka and cp-schema-registry with testcontainers');
    return startContainers();
  }
  log('integration: no Docker engine; using the local stack (scripts/stack)');
  const result = await stackUp(log);
  return {
    kind: 'local-stack',
    brokers: result.addresses.brokers,
    registryUrl: result.addresses.registryUrl,
    release: async () => {
      if (result.startedNow) await stackDown(log);
    },
  };
}

/**
 * For a test file: the environment the runner chose (passed down as variables), or acquired here when a file
 * is run on its own.
 */
let shared: Promise<TestEnvironment> | undefined;
export function testEnvironment(): Promise<TestEnvironment> {
  shared ??= acquireEnvironment(() => undefined);
  return shared;
}
