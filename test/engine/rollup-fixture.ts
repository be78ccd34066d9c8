/**
 * The metrics rollup as the processor of the engine's tests: the engine is generic, but its tests drive it with
 * the processor it ships with, so their expectations (windows closing, dead letters) stay the rollup's.
 */
import { bindProcessor, type TaskProcessor, type TaskProcessorFactory } from '../../src/engine/processor.js';
import { rollupSupplier, type RollupSettings } from '../../src/rollup/rollup-processor.js';
import type { WindowStore } from '../../src/rollup/window-store.js';

export function rollupProcessors(settings: RollupSettings): TaskProcessorFactory {
  return bindProcessor(rollupSupplier(settings));
}

/** One task's rollup processor over a store the test holds, to look at its committed windows. */
export function rollupOn(store: WindowStore, settings: RollupSettings): TaskProcessor {
  return bindProcessor({ ...rollupSupplier(settings), createStore: () => store })(0);
}
