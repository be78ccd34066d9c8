/**
 * docker-compose.yml and the Prometheus and Grafana files it mounts, checked without a Docker engine: the
 * stage's containers set only variables the stage knows, its stop grace period covers the shutdown bound, the
 * images match the versions the tests run against, and Prometheus scrapes the port and job the rules select.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { stackVersions } from '../../scripts/stack/paths.js';
import { VARIABLE_NAMES, list, readYaml, record, text, variableDefault } from './support.js';

const IMAGE = 'eos-rollup:local';

function services(): Record<string, Record<string, unknown>> {
  const all = record(record(readYaml('docker-compose.yml'), 'compose').services, 'services');
  return Object.fromEntries(Object.entries(all).map(([name, s]) => [name, record(s, name)]));
}

function service(name: string): Record<string, unknown> {
  const found = services()[name];
  assert.ok(found, `service ${name}`);
  return found;
}

function stageServices(): [string, Record<string, unknown>][] {
  return Object.entries(services()).filter(([, s]) => s.image === IMAGE);
}

function environment(s: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(record(s.environment, 'environment')).map(([k, v]) => [k, String(v)]),
  );
}

/** Compose durations as used here: `30s`, `1m30s`. */
function seconds(duration: string): number {
  const match = /^(?:(\d+)m)?(?:(\d+)s)?$/.exec(duration);
  assert.ok(match && duration !== '', `a duration: ${duration}`);
  return Number(match[1] ?? 0) * 60 + Number(match[2] ?? 0);
}

test('every container of the eos-rollup image sets only variables the stage knows, and builds from the Dockerfile', () => {
  const stages = stageServices();
  assert.deepEqual(stages.map(([name]) => name).sort(), ['eos-rollup', 'inventory', 'produce', 'topics']);
  for (const [name, s] of stages) {
    assert.equal(s.build, '.', `${name} builds from the Dockerfile`);
    const unknown = Object.keys(environment(s)).filter((v) => !VARIABLE_NAMES.has(v));
    assert.deepEqual(unknown, [], `${name}: unknown variables`);
    for (const required of ['KAFKA_BROKERS', 'SCHEMA_REGISTRY_URL'])
      assert.ok(required in environment(s), `${name} sets ${required}`);
  }
});

test("the stage's stop grace period is longer than SHUTDOWN_TIMEOUT_MS, and its health check asks /readyz on METRICS_PORT", () => {
  const stage = service('eos-rollup');
  const env = environment(stage);
  const shutdownMs = Number(env.SHUTDOWN_TIMEOUT_MS ?? variableDefault('SHUTDOWN_TIMEOUT_MS'));
  assert.ok(seconds(text(stage.stop_grace_period, 'stop_grace_period')) * 1000 > shutdownMs);
  const port = env.METRICS_PORT ?? variableDefault('METRICS_PORT');
  const check = list(record(stage.healthcheck, 'healthcheck').test, 'healthcheck.test').join(' ');
  assert.ok(check.includes(`http://127.0.0.1:${port}/readyz`), check);
  assert.ok(
    list(stage.ports, 'ports').some((p) => String(p).endsWith(`:${port}`)),
    `port ${port} is published`,
  );
  assert.deepEqual(stage.command, ['run']);
});

test('Kafka and the registry are the versions the tests run against (stack/pom.xml)', () => {
  const versions = stackVersions();
  assert.equal(service('kafka').image, `apache/kafka:${versions.kafka}`);
  assert.equal(service('schema-registry').image, `apicurio/apicurio-registry:${versions.apicurio}`);
  const env = environment(service('kafka'));
  for (const name of [
    'KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR',
    'KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR',
    'KAFKA_TRANSACTION_STATE_LOG_MIN_ISR',
  ])
    assert.equal(env[name], '1', `${name}: one broker, one replica`);
  const stageEnv = environment(service('eos-rollup'));
  assert.ok(stageEnv.SCHEMA_REGISTRY_URL?.startsWith('http://schema-registry:8080/apis/ccompat/v7'));
  assert.ok(stageEnv.KAFKA_BROKERS?.startsWith('kafka:'));
});

test('the load generator and Prometheus with Grafana are optional profiles', () => {
  const profiles = (name: string) => list(service(name).profiles, `${name} profiles`);
  assert.ok(profiles('produce').includes('load'));
  for (const name of ['prometheus', 'grafana']) assert.ok(profiles(name).includes('monitoring'));
  for (const name of ['produce', 'prometheus', 'grafana']) assert.ok(profiles(name).includes('demo'));
  for (const name of ['kafka', 'schema-registry', 'topics', 'inventory', 'eos-rollup'])
    assert.equal(service(name).profiles, undefined, `${name} always runs`);
  assert.equal(list(service('produce').command, 'produce command')[0], 'produce');
});

test('Prometheus loads alerts.yml and scrapes the stage under the job the rules select', () => {
  const mounts = new Map(
    list(service('prometheus').volumes, 'volumes').map((v) => {
      const [source, target] = String(v).split(':');
      return [target, source];
    }),
  );
  assert.equal(mounts.get('/etc/prometheus/prometheus.yml'), './deploy/prometheus/prometheus.yml');
  const config = record(readYaml('deploy/prometheus/prometheus.yml'), 'prometheus.yml');
  const [rules] = list(config.rule_files, 'rule_files').map(String);
  assert.ok(rules !== undefined);
  assert.equal(mounts.get(rules), './deploy/prometheus/alerts.yml');
  const [job] = list(config.scrape_configs, 'scrape_configs').map((j) => record(j, 'scrape config'));
  assert.equal(job?.job_name, 'eos-rollup');
  const [sd] = list(job.dns_sd_configs, 'dns_sd_configs').map((s) => record(s, 'dns_sd_config'));
  assert.deepEqual(sd?.names, ['eos-rollup']);
  const port = environment(service('eos-rollup')).METRICS_PORT ?? variableDefault('METRICS_PORT');
  assert.equal(String(sd.port), port);
});

test('Grafana provisions the Prometheus data source and the checked-in dashboard', () => {
  const mounts = new Map(
    list(service('grafana').volumes, 'volumes').map((v) => {
      const [source, target] = String(v).split(':');
      return [source, target];
    }),
  );
  const dashboardTarget = mounts.get('./deploy/grafana/eos-rollup.json');
  assert.ok(dashboardTarget, 'the dashboard is mounted');
  assert.equal(mounts.get('./deploy/grafana/provisioning'), '/etc/grafana/provisioning');
  const provider = record(
    list(
      record(readYaml('deploy/grafana/provisioning/dashboards/eos-rollup.yml'), 'provider file').providers,
      'providers',
    )[0],
    'provider',
  );
  assert.ok(dashboardTarget.startsWith(`${text(record(provider.options, 'options').path, 'path')}/`));
  const [datasource] = list(
    record(readYaml('deploy/grafana/provisioning/datasources/prometheus.yml'), 'datasources file')
      .datasources,
    'datasources',
  ).map((d) => record(d, 'datasource'));
  assert.equal(datasource?.type, 'prometheus');
  assert.equal(datasource.url, 'http://prometheus:9090');
});
