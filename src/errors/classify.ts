import { isStageError, type ErrorKind } from './errors.js';

/**
 * The single answer to "what do we do about this error?". Total: it never throws, whatever it is handed,
 * because it runs inside catch blocks where a second exception would hide the first.
 *
 * Anything that is not a StageError was not translated at a boundary, so nobody has decided it is safe to retry
 * or skip: it is fatal.
 */
export function classify(error: unknown): ErrorKind {
  try {
    return isStageError(error) ? error.kind : 'fatal';
  } catch {
    // `instanceof` can run user code (a Proxy's getPrototypeOf trap, Symbol.hasInstance).
    return 'fatal';
  }
}
