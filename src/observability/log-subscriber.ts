/** Logs the engine's lifecycle events; per-record and per-transaction detail stays at debug. */
import type { Logger } from 'pino';
import type { StageEvents } from './events.js';

export function attachLogSubscriber(events: StageEvents, logger: Logger): void {
  events.on('breaker.changed', ({ partition, state }) => {
    logger.warn({ partition, state }, 'circuit breaker changed');
  });
  events.on('record.dead_lettered', ({ partition, reason, offset }) => {
    logger.debug({ partition, reason, offset: offset.toString() }, 'record dead-lettered');
  });
}
