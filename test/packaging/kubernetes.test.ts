/**
 * The example Kubernetes manifests (deploy/k8s) against what the stage does: probes on its endpoint and port, a
 * grace period longer than its shutdown bound, a non-root read-only container, only variables it knows, and the
 * pieces (ConfigMap, Secret, Service, PodDisruptionBudget) pointing at each other.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { VARIABLE_SPECS, type VariableName, type VariableSpec } from '../../src/config/variables.js';
import {
  VARIABLE_NAMES,
  list,
  readText,
  readYaml,
  readYamlDocuments,
  record,
  text,
  variableDefault,
} from './support.js';

const DIR = 'deploy/k8s';

type Manifest = Record<string, unknown>;

/** The manifests kustomization.yaml lists, plus the Secret example it deliberately leaves out. */
function manifests(): Manifest[] {
  const kustomization = record(readYaml(`${DIR}/kustomization.yaml`), 'kustomization');
  const files = [
    ...list(kustomization.resources, 'resources').map((r) => text(r, 'resource')),
    'secret.example.yaml',
  ];
  return files.flatMap((file) =>
    readYamlDocuments(`${DIR}/${file}`)
      .filter((document) => document !== null)
      .map((document) => record(document, file)),
  );
}

function only(kind: string): Manifest {
  const found = manifests().filter((m) => m.kind === kind);
  assert.equal(found.length, 1, `one ${kind}`);
  const [manifest] = found;
  assert.ok(manifest);
  return manifest;
}

function nameOf(manifest: Manifest): string {
  return text(record(manifest.metadata, 'metadata').name, 'metadata.name');
}

function podSpec(): Record<string, unknown> {
  const deployment = only('Deployment');
  return record(record(record(deployment.spec, 'spec').template, 'template').spec, 'template.spec');
}

function container(): Record<string, unknown> {
  const containers = list(podSpec().containers, 'containers');
  assert.equal(containers.length, 1, 'one container');
  return record(containers[0], 'container');
}

function configData(): Record<string, unknown> {
  return record(only('ConfigMap').data, 'ConfigMap data');
}

/** A variable as the pod sees it: the ConfigMap's value, else the stage's default. */
function effective(name: VariableName): string {
  const value = configData()[name];
  return typeof value === 'string' ? value : variableDefault(name);
}

test('liveness probes /healthz and readiness probes /readyz, on the container port METRICS_PORT configures', () => {
  const c = container();
  const ports = list(c.ports, 'ports').map((p) => record(p, 'port'));
  const probe = (name: string) => record(record(c[name], name).httpGet, `${name}.httpGet`);
  const portNumber = (port: unknown): number => {
    if (typeof port === 'number') return port;
    const named = ports.find((p) => p.name === port);
    assert.ok(named, `the container has a port named ${String(port)}`);
    return Number(named.containerPort);
  };
  const metricsPort = Number(effective('METRICS_PORT'));
  assert.ok(metricsPort > 0, 'METRICS_PORT is not 0 (the endpoint, and the probes, would be off)');
  assert.equal(probe('livenessProbe').path, '/healthz');
  assert.equal(probe('readinessProbe').path, '/readyz');
  assert.equal(portNumber(probe('livenessProbe').port), metricsPort);
  assert.equal(portNumber(probe('readinessProbe').port), metricsPort);
});

test("terminationGracePeriodSeconds is longer than the stage's shutdown bound SHUTDOWN_TIMEOUT_MS", () => {
  const grace = Number(podSpec().terminationGracePeriodSeconds);
  const shutdownMs = Number(effective('SHUTDOWN_TIMEOUT_MS'));
  assert.ok(grace * 1000 > shutdownMs, `${grace} s > ${shutdownMs} ms`);
  assert.ok(Number(variableDefault('SHUTDOWN_TIMEOUT_MS')) < grace * 1000, 'also above the default');
});

test('the pod runs as a non-root user on a read-only root filesystem, without privilege escalation', () => {
  const pod = record(podSpec().securityContext, 'pod securityContext');
  const own = record(container().securityContext, 'container securityContext');
  assert.equal(pod.runAsNonRoot, true);
  assert.equal(own.runAsNonRoot, true);
  assert.ok(Number(pod.runAsUser) > 0, 'a numeric non-root uid');
  assert.equal(own.readOnlyRootFilesystem, true);
  assert.equal(own.allowPrivilegeEscalation, false);
  assert.deepEqual(record(own.capabilities, 'capabilities').drop, ['ALL']);
  assert.equal(podSpec().automountServiceAccountToken, false);
  // The image's USER is the same uid, so runAsNonRoot holds without the override too.
  assert.match(readText('Dockerfile'), new RegExp(`^USER ${String(pod.runAsUser)}(:|$)`, 'm'));
});

test('the pod reads only variables the stage knows, from the ConfigMap, the Secret and its own name', () => {
  const c = container();
  const envFrom = list(c.envFrom, 'envFrom').map((e) => record(e, 'envFrom'));
  const configRef = envFrom.map((e) => e.configMapRef).find((r) => r !== undefined);
  const secretRef = envFrom.map((e) => e.secretRef).find((r) => r !== undefined);
  assert.equal(record(configRef, 'configMapRef').name, nameOf(only('ConfigMap')));
  assert.equal(record(secretRef, 'secretRef').name, nameOf(only('Secret')));
  const names = [
    ...list(c.env, 'env').map((e) => text(record(e, 'env').name, 'env name')),
    ...Object.keys(configData()),
    ...Object.keys(record(only('Secret').stringData, 'Secret stringData')),
  ];
  assert.deepEqual(
    names.filter((n) => !VARIABLE_NAMES.has(n) && n !== 'NODE_OPTIONS'),
    [],
    'unknown variables',
  );
  for (const required of ['KAFKA_BROKERS', 'SCHEMA_REGISTRY_URL'])
    assert.ok(required in configData(), `${required} is configured`);
});

test('secrets live in the Secret, never in the ConfigMap, and no test-only switch is set', () => {
  const isSecret = (name: string) => {
    const spec: VariableSpec = VARIABLE_SPECS[name as VariableName];
    return spec.kind === 'text' && spec.secret === true;
  };
  const configKeys = Object.keys(configData());
  assert.deepEqual(configKeys.filter(isSecret), []);
  const secretKeys = Object.keys(record(only('Secret').stringData, 'stringData'));
  assert.ok(secretKeys.some(isSecret), 'the Secret holds the passwords');
  for (const testOnly of ['EOS_ROLLUP_FAULT', 'EOS_ROLLUP_BROKEN'])
    assert.ok(![...configKeys, ...secretKeys].includes(testOnly), `${testOnly} is not set`);
});

test('replicas are no more than the input partitions of the examples, and replacements go one at a time', () => {
  const spec = record(only('Deployment').spec, 'spec');
  const command = list(
    record(record(record(readYaml('docker-compose.yml'), 'compose').services, 'services').topics, 'topics')
      .command,
    'topics command',
  ).map(String);
  const partitions = Number(command[command.indexOf('--partitions') + 1]);
  assert.ok(partitions > 0, 'the compose example creates the input with --partitions');
  assert.ok(
    Number(spec.replicas) <= partitions,
    `${String(spec.replicas)} replicas ≤ ${partitions} partitions`,
  );
  const rolling = record(record(spec.strategy, 'strategy').rollingUpdate, 'rollingUpdate');
  assert.equal(rolling.maxSurge, 0);
  assert.equal(rolling.maxUnavailable, 1);
});

test('the Service and the PodDisruptionBudget select the pods, and the Service exposes the metrics port of not-ready pods too', () => {
  const deployment = record(only('Deployment').spec, 'spec');
  const podLabels = record(
    record(record(deployment.template, 'template').metadata, 'metadata').labels,
    'labels',
  );
  const selects = (selector: Record<string, unknown>) =>
    Object.entries(selector).every(([key, value]) => podLabels[key] === value);
  const service = record(only('Service').spec, 'Service spec');
  assert.ok(selects(record(service.selector, 'Service selector')));
  assert.equal(service.publishNotReadyAddresses, true);
  const [port] = list(service.ports, 'Service ports').map((p) => record(p, 'Service port'));
  assert.equal(port?.targetPort, 'metrics');
  // The alert rules select job="eos-rollup": a ServiceMonitor names the job after the Service.
  assert.equal(nameOf(only('Service')), 'eos-rollup');
  const pdb = record(only('PodDisruptionBudget').spec, 'PDB spec');
  assert.ok(selects(record(record(pdb.selector, 'PDB selector').matchLabels, 'matchLabels')));
  assert.equal(pdb.maxUnavailable, 1);
});

test('no Service link variables reach the pod: a Service named metrics would otherwise set METRICS_PORT', () => {
  assert.equal(podSpec().enableServiceLinks, false);
});

test("the heap limit leaves room under the container's memory limit", () => {
  const c = container();
  const nodeOptions = list(c.env, 'env')
    .map((e) => record(e, 'env'))
    .find((e) => e.name === 'NODE_OPTIONS');
  const heapMiB = Number(/--max-old-space-size=(\d+)/.exec(text(nodeOptions?.value, 'NODE_OPTIONS'))?.[1]);
  const limit = text(record(record(c.resources, 'resources').limits, 'limits').memory, 'memory limit');
  const limitMiB = Number(/^(\d+)Mi$/.exec(limit)?.[1]);
  assert.ok(heapMiB > 0 && heapMiB <= limitMiB * 0.8, `heap ${heapMiB} MiB under a ${limitMiB} MiB limit`);
});
