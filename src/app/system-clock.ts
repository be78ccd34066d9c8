/** The clock of a running process: wall time, timers and Math.random. */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Clock } from '../engine/stage-ports.js';

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => sleep(ms).then(() => undefined),
  random: () => Math.random(),
};
