import { FatalError } from '../errors/errors.js';

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the breaker. */
  readonly threshold: number;
  /** Time between the opening (or a failed probe) and the next probe. */
  readonly probeIntervalMs: number;
}

/**
 * One partition's breaker: when retriable failures persist, the engine pauses the partition (open), lets one
 * probe through now and then (half-open) and resumes on the first success (closed). Nothing is skipped while
 * open; records simply wait.
 *
 * Pure state: time is passed in and nothing is scheduled, so every transition is testable with plain numbers.
 *
 *   closed --threshold-th consecutive failure--> open --startProbe--> half-open --success--> closed
 *                                                  ^                      |
 *                                                  +-------failure--------+
 */
export class CircuitBreaker {
  private readonly threshold: number;
  private readonly probeIntervalMs: number;
  private current: BreakerState = 'closed';
  private failures = 0;
  private nextProbeAt: number | undefined;

  constructor(opts: CircuitBreakerOptions) {
    if (!Number.isSafeInteger(opts.threshold) || opts.threshold < 1) {
      throw new RangeError(`threshold must be an integer of at least 1, got ${opts.threshold}`);
    }
    if (!Number.isFinite(opts.probeIntervalMs) || opts.probeIntervalMs < 0) {
      throw new RangeError(
        `probeIntervalMs must be a finite number of at least 0, got ${opts.probeIntervalMs}`,
      );
    }
    this.threshold = opts.threshold;
    this.probeIntervalMs = opts.probeIntervalMs;
  }

  get state(): BreakerState {
    return this.current;
  }

  get consecutiveFailures(): number {
    return this.failures;
  }

  /** When the next probe is due; undefined unless open. For metrics and for scheduling a wake-up. */
  get nextProbeAtMs(): number | undefined {
    return this.current === 'open' ? this.nextProbeAt : undefined;
  }

  recordFailure(nowMs: number): BreakerState {
    this.failures += 1;
    switch (this.current) {
      case 'closed':
        if (this.failures >= this.threshold) this.open(nowMs);
        break;
      case 'half-open':
        this.open(nowMs);
        break;
      case 'open':
        // A straggler from before the pause (an in-flight commit) must not push the next probe back, or a steady
        // trickle of them would keep the partition paused for ever.
        break;
    }
    return this.current;
  }

  recordSuccess(_nowMs: number): BreakerState {
    this.current = 'closed';
    this.failures = 0;
    this.nextProbeAt = undefined;
    return this.current;
  }

  isProbeDue(nowMs: number): boolean {
    return this.current === 'open' && this.nextProbeAt !== undefined && nowMs >= this.nextProbeAt;
  }

  /** Open → half-open. Guarded: probing from any other state means the caller lost track of the breaker. */
  startProbe(_nowMs: number): void {
    if (this.current !== 'open') {
      throw new FatalError(
        'INVARIANT_VIOLATED',
        `circuit breaker: cannot start a probe in state ${this.current}`,
      );
    }
    // One probe at a time: the next is scheduled only when this one fails (recordFailure re-opens).
    this.current = 'half-open';
    this.nextProbeAt = undefined;
  }

  private open(nowMs: number): void {
    this.current = 'open';
    this.nextProbeAt = nowMs + this.probeIntervalMs;
  }
}
