/**
 * Contract (docs/security.md, "Minimum ACLs"): on a broker that authorizes every request, the ACLs that
 * deploy/kafka/acls.sh grants are enough for the stage to roll up exactly once; and a missing one is not a
 * silent stall. Without the transactional-id ACL, kafkajs used to report "Failed to find group coordinator"
 * and the stage retried forever with its breakers open; the kafkajs patch surfaces the authorization error, and
 * the stage exits within seconds naming it.
 *
 * The broker (usePrivateBroker) runs the StandardAuthorizer; its PLAINTEXT listener's principal (ANONYMOUS) is
 * a super user for set-up, ACL changes and the audit; the stage logs in over SCRAM as a principal that has
 * nothing but what acls.sh grants.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { repoRoot } from '../../scripts/stack/paths.js';
import type { PipelineNames } from '../support/pipeline.js';
import { usePrivateBroker } from '../support/private-broker.js';
import { assertNoViolations, auditScenario, prepareScenario, runOnce } from '../support/scenario.js';

const USER = 'eos-rollup-acl';
const PASSWORD = `acl-${randomBytes(12).toString('hex')}`;
const FAIL_FAST_MS = 20_000;

const suite = usePrivateBroker({
  security: { saslUsers: { [USER]: PASSWORD } },
  extraProperties: {
    'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
    'super.users': 'User:ANONYMOUS',
  },
});

function stageEnv(): Record<string, string> {
  const address = suite.broker.listeners.SASL_PLAINTEXT;
  if (address === undefined) throw new Error('the private broker has no SASL_PLAINTEXT listener');
  return {
    KAFKA_BROKERS: address,
    KAFKA_SASL_MECHANISM: 'scram-sha-512',
    KAFKA_SASL_USERNAME: USER,
    KAFKA_SASL_PASSWORD: PASSWORD,
  };
}

function kafkaAcls(args: string[]): void {
  execFileSync(join(repoRoot(), 'scripts', 'kafka-tool'), ['kafka-acls', ...args], { stdio: 'pipe' });
}

/** Grants exactly what deploy/kafka/acls.sh grants, for this pipeline's names. */
function grantDocumentedAcls(names: PipelineNames): void {
  execFileSync('bash', [join(repoRoot(), 'deploy', 'kafka', 'acls.sh')], {
    stdio: 'pipe',
    env: {
      ...process.env,
      PRINCIPAL: `User:${USER}`,
      BOOTSTRAP: suite.broker.brokers,
      KAFKA_ACLS: `${join(repoRoot(), 'scripts', 'kafka-tool')} kafka-acls`,
      APP_ID: names.appId,
      INPUT_TOPIC: names.input,
      INVENTORY_TOPIC: names.inventory,
      OUTPUT_TOPIC: names.output,
      DLQ_TOPIC: names.dlq,
    },
  });
}

test('with the ACLs of deploy/kafka/acls.sh and nothing more, every window is rolled up exactly once', async () => {
  const { names } = await prepareScenario(suite, { hosts: 10, perHost: 30 });
  grantDocumentedAcls(names);
  const { exit, stage } = await runOnce(suite, names, stageEnv());
  assert.deepEqual(exit, { code: 0, signal: null }, stage.output().slice(-3000));
  assert.doesNotMatch(stage.output(), /AUTHORIZATION_FAILED/);
  const outcome = await auditScenario(suite.env, suite.kafka, names);
  assertNoViolations(outcome, stage.output().slice(-3000));
  assert.ok(outcome.report.counts.rollups > 0, 'the stage wrote rollups');
});

test('without the transactional-id ACL the stage exits within seconds, naming the authorization failure', async () => {
  const { names } = await prepareScenario(suite, { hosts: 2, perHost: 2 });
  grantDocumentedAcls(names);
  kafkaAcls([
    '--bootstrap-server',
    suite.broker.brokers,
    '--remove',
    '--force',
    '--allow-principal',
    `User:${USER}`,
    '--operation',
    'Write',
    '--transactional-id',
    `${names.appId}-${names.input}-`,
    '--resource-pattern-type',
    'prefixed',
  ]);
  const startedAt = Date.now();
  const stage = suite.start(names, stageEnv());
  const exit = await Promise.race([stage.exited, sleep(FAIL_FAST_MS * 2).then(() => undefined)]);
  const elapsedMs = Date.now() - startedAt;
  assert.ok(exit, `still running after ${elapsedMs} ms:\n${stage.output().slice(-3000)}`);
  assert.notEqual(exit.code, 0, stage.output().slice(-3000));
  assert.ok(elapsedMs < FAIL_FAST_MS, `exited after ${elapsedMs} ms`);
  const reason = stage
    .output()
    .split('\n')
    .find((line) => line.startsWith('eos-rollup: '));
  assert.ok(reason, `a one-line reason:\n${stage.output().slice(-3000)}`);
  assert.match(reason, /TRANSACTIONAL_ID_AUTHORIZATION_FAILED|[Tt]ransactional [Ii]d .*authoriz/);
  assert.match(reason, /ACL/);
  assert.ok(!stage.output().includes(PASSWORD), 'the password never reaches the output');
});
