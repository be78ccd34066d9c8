/**
 * A reporter for node's test runner (`--test-reporter`) that writes each test's outcome and diagnostics as one
 * JSON line, for the bench's cluster phase (cluster-run.ts) to read. node's own reporters print for people; their
 * layout is not a contract.
 */
interface TestEvent {
  type: string;
  data: { name?: string; message?: string; nesting?: number };
}

/** One line per event the cluster phase reads: a top-level test's pass or fail, and the diagnostics after it. */
async function* clusterReporter(source: AsyncIterable<TestEvent>): AsyncGenerator<string> {
  for await (const { type, data } of source) {
    if (data.nesting !== 0) continue;
    if (type === 'test:pass' || type === 'test:fail' || type === 'test:plan') {
      yield `${JSON.stringify({ type, name: data.name ?? null })}\n`;
    } else if (type === 'test:diagnostic') {
      yield `${JSON.stringify({ type, message: data.message ?? '' })}\n`;
    }
  }
}

// node loads a reporter by its default export; `export =` makes the compiled CommonJS module the function itself.
export = clusterReporter;
