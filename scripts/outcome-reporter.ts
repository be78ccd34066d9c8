/**
 * A node:test reporter for machines: one JSON line per top-level test result and per file, written to
 * its own destination beside the spec reporter humans read. `export =` because node loads a reporter by import()
 * and takes its default export, which for a CommonJS module is module.exports itself.
 */
import { outcomeLines, type RunnerEvent } from './test-outcomes.js';

async function* outcomeReporter(source: AsyncIterable<RunnerEvent>): AsyncGenerator<string> {
  for await (const event of source) {
    for (const line of outcomeLines(event, Date.now())) yield `${JSON.stringify(line)}\n`;
  }
}

export = outcomeReporter;
