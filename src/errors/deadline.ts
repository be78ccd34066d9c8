/**
 * Bounds on how long an await may take. A request whose peer never answers and never closes the socket leaves
 * a promise pending forever, and a process that awaits it stands still without a word: every such await that
 * has no deadline of its own (an HTTP request, a client library's connect or disconnect) goes through here.
 * The bounded work is not cancelled, only no longer waited for; callers that can cancel do so themselves.
 */

/** Raised when an await took longer than its deadline; the message names what was awaited and for how long. */
export class DeadlineExceeded extends Error {
  constructor(
    readonly what: string,
    readonly ms: number,
  ) {
    super(`${what} took longer than ${ms} ms`);
    this.name = 'DeadlineExceeded';
  }
}

/** The promise's outcome, or what `late` gives when it has not settled after `ms`. */
function race<T, F>(promise: Promise<T>, ms: number, late: () => Promise<F>): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<F>((resolve) => {
    timer = setTimeout(() => {
      resolve(late());
    }, ms);
  });
  return Promise.race([promise, timedOut]).finally(() => {
    clearTimeout(timer);
  });
}

/** The promise's outcome, or a DeadlineExceeded rejection after `ms`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return race(promise, ms, () => Promise.reject(new DeadlineExceeded(what, ms)));
}

/** The promise's outcome, or undefined after `ms` (a rejection before then still rejects). */
export function valueWithin<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return race(promise, ms, () => Promise.resolve(undefined));
}

/** Waits for best-effort work (a disconnect, a cleanup) at most `ms`; its failure or lateness is ignored. */
export async function settleWithin(work: Promise<unknown>, ms: number): Promise<void> {
  await valueWithin(
    work.catch(() => undefined),
    ms,
  );
}
