/**
 * The shared frame of a stage test file: the broker and registry, a kafkajs client, and every stage process the
 * file starts, killed after the file whatever happened.
 */
import { after, before } from 'node:test';
import type { Kafka } from 'kafkajs';
import { testEnvironment, type TestEnvironment } from './environment.js';
import { testKafka } from './kafka.js';
import { startStage, type PipelineNames, type StageProcess } from './pipeline.js';

export interface StageSuite {
  readonly env: TestEnvironment;
  readonly kafka: Kafka;
  readonly stages: readonly StageProcess[];
  /** Starts `eos-rollup run` as a child process for these topics; killed at the end of the file. */
  start(names: PipelineNames, extraEnv?: Record<string, string>): StageProcess;
}

/**
 * `environment` provides the broker and registry (default: the shared test environment); `teardown` runs after
 * the file's stage processes are killed.
 */
export function useStageSuite(
  environment: () => Promise<TestEnvironment> = testEnvironment,
  teardown: () => Promise<void> = () => Promise.resolve(),
): StageSuite {
  let env: TestEnvironment | undefined;
  let kafka: Kafka | undefined;
  const stages: StageProcess[] = [];
  before(async () => {
    env = await environment();
    kafka = testKafka(env);
  });
  after(async () => {
    await Promise.all(stages.map((s) => s.stop('SIGKILL')));
    await teardown();
  });
  const ready = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the stage suite is used before its before() hook ran');
    return value;
  };
  return {
    get env() {
      return ready(env);
    },
    get kafka() {
      return ready(kafka);
    },
    stages,
    start(names, extraEnv = {}) {
      const stage = startStage(ready(env), names, extraEnv);
      stages.push(stage);
      return stage;
    },
  };
}
