/**
 * `eos-rollup run`: the stage, running the metrics rollup job (src/app/run-job.ts has the lifecycle: signals,
 * clean stop within SHUTDOWN_TIMEOUT_MS, the watchdog and the operations endpoint).
 */
import { rollupJob } from '../../app/rollup-job.js';
import { runJob } from '../../app/run-job.js';
import { packageVersion } from '../version.js';

export function runCommand(): Promise<number> {
  return runJob(rollupJob(packageVersion()));
}
