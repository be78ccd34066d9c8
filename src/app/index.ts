/** The job runner's public API (package export `eos-rollup/app`): run an exactly-once job like `eos-rollup run`. */
export { runJob, type JobDefinition, type JobServices } from './run-job.js';
