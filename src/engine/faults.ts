/**
 * Test-only fault injection (EOS_ROLLUP_FAULT). Names a point in a task's transaction lifecycle, when it
 * triggers (the n-th hit, or each hit with a probability), optionally one partition, and the action:
 *   EOS_ROLLUP_FAULT="<point>@<n|%pct|o<offset>>[/p<partition>]:<kill|hang|hold|throw|stall<ms>|block<ms>>"
 *   e.g. "after-send-offsets@3/p1:kill", "before-commit@%10:throw", "before-commit@2:stall5000"
 * Several specs may be given, separated by commas. `kill` sends SIGKILL to this process (no cleanup at all),
 * `hang` never returns (a zombie), `throw` raises a retriable InjectedFault the engine must recover from,
 * `stall<ms>` pauses this task that long (longer than the transaction timeout, it is aborted under it),
 * `block<ms>` blocks the whole event loop that long (no heartbeats: past the session timeout, the group moves on).
 * `hold` pauses this task until the test sends HOLD_RELEASE_SIGNAL to the process: a test that must strike while
 * the task is at this point waits for the "injecting fault" line (written before the hold begins), strikes, then
 * releases. A timed stall races the strike; a hold cannot.
 */
import { RetriableError } from '../errors/errors.js';

export const FAULT_POINTS = [
  'before-send',
  'after-output-send',
  'after-dlq-send',
  'after-changelog-send',
  'after-send',
  'after-send-offsets',
  'before-commit',
  'during-commit',
  'after-commit',
  'during-restore',
  'at-window-close',
  'after-offset-fetch',
  'process-record',
  'after-arm',
] as const;
export type FaultPoint = (typeof FAULT_POINTS)[number];
export type FaultAction = 'kill' | 'hang' | 'hold' | 'throw' | 'stall' | 'block';

/**
 * Releases every task held by a `hold` fault. SIGUSR2 because node leaves it free (SIGUSR1 starts the inspector),
 * and a signal reaches the process without any channel the stage would otherwise open. The listener exists only
 * while a `hold` spec is armed, so the signal never reaches a stage that has not been told to expect it.
 */
export const HOLD_RELEASE_SIGNAL = 'SIGUSR2';

/** Where held tasks wait: the process signal in the stage, a plain trigger in unit tests. */
export interface HoldRelease {
  /** Settles at the next release after the call. */
  wait(): Promise<void>;
}

/** Every task waiting when the signal arrives is released; a task held later waits for the next signal. */
export function signalRelease(signal: NodeJS.Signals = HOLD_RELEASE_SIGNAL): HoldRelease {
  let waiters: (() => void)[] = [];
  process.on(signal, () => {
    const released = waiters;
    waiters = [];
    for (const release of released) release();
  });
  return {
    wait: () =>
      new Promise<void>((resolve) => {
        waiters.push(resolve);
      }),
  };
}

export interface FaultSpec {
  point: FaultPoint;
  /** Trigger on the n-th hit, on each hit with `percent` probability, or (process-record) at this input offset every time. */
  nth: number | undefined;
  percent: number | undefined;
  offset: bigint | undefined;
  partition: number | undefined;
  action: FaultAction;
  stallMs: number;
}

const SPEC = /^([a-z-]+)@(?:(\d+)|%(\d+)|o(\d+))(?:\/p(\d+))?:(kill|hang|hold|throw|(?:stall|block)(\d+))$/;

export function parseFaultSpecs(raw: string | undefined): FaultSpec[] {
  if (!raw) return [];
  return raw.split(',').map((text) => {
    const match = SPEC.exec(text.trim());
    const point = match?.[1] as FaultPoint | undefined;
    const nth = match?.[2] === undefined ? undefined : Number(match[2]);
    const percent = match?.[3] === undefined ? undefined : Number(match[3]);
    if (
      !match ||
      !point ||
      !FAULT_POINTS.includes(point) ||
      nth === 0 ||
      (percent !== undefined && percent > 100)
    ) {
      throw new Error(
        `EOS_ROLLUP_FAULT="${raw}" is not allowed: expected <point>@<n|%pct|o<offset>>[/p<partition>]:<kill|hang|hold|throw|stall<ms>|block<ms>> with point one of ${FAULT_POINTS.join(', ')}`,
      );
    }
    const action: FaultAction = match[6]?.startsWith('stall')
      ? 'stall'
      : match[6]?.startsWith('block')
        ? 'block'
        : (match[6] as FaultAction);
    return {
      point,
      nth,
      percent,
      offset: match[4] === undefined ? undefined : BigInt(match[4]),
      partition: match[5] === undefined ? undefined : Number(match[5]),
      action,
      stallMs: match[7] === undefined ? 0 : Number(match[7]),
    };
  });
}

/** A synchronous wait: nothing else in the process runs, heartbeats included. */
function blockEventLoop(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export class InjectedFault extends RetriableError {
  constructor(point: FaultPoint, partition: number) {
    super('KAFKA_RETRIABLE', `injected fault at ${point} on partition ${partition}`);
  }
}

export class FaultInjector {
  private readonly hits = new Map<string, number>();
  private readonly release: HoldRelease | undefined;

  constructor(
    private readonly specs: readonly FaultSpec[],
    private readonly onTrigger: (spec: FaultSpec, partition: number) => void = () => undefined,
    private readonly random: () => number = Math.random,
    release?: HoldRelease,
  ) {
    this.release = specs.some((spec) => spec.action === 'hold') ? (release ?? signalRelease()) : undefined;
  }

  get isArmed(): boolean {
    return this.specs.length > 0;
  }

  /**
   * For the synchronous per-record point (process-record): only `throw` and `kill` make sense there, and an
   * `o<offset>` trigger fires every time that record is processed (a deterministic processing failure).
   */
  hitSync(point: FaultPoint, partition: number, offset: bigint): void {
    if (this.specs.length === 0) return;
    for (const spec of this.due(point, partition, offset)) {
      this.onTrigger(spec, partition);
      if (spec.action === 'kill') process.kill(process.pid, 'SIGKILL');
      throw new InjectedFault(point, partition);
    }
  }

  /** Every spec of this point counts this hit, whichever of them fires: each one's n-th hit is the n-th. */
  private due(point: FaultPoint, partition: number, offset?: bigint): FaultSpec[] {
    return this.specs.filter((spec) => {
      if (spec.point !== point || (spec.partition !== undefined && spec.partition !== partition))
        return false;
      return spec.offset !== undefined ? spec.offset === offset : this.countHit(spec, point);
    });
  }

  private countHit(spec: FaultSpec, point: FaultPoint): boolean {
    // Per spec: two specs on one point (a deterministic one beside a random one) must not count each hit twice.
    const key = `${this.specs.indexOf(spec)}:${point}/${spec.partition ?? '*'}`;
    const count = (this.hits.get(key) ?? 0) + 1;
    this.hits.set(key, count);
    return spec.nth !== undefined ? count === spec.nth : this.random() * 100 < (spec.percent ?? 0);
  }

  async hit(point: FaultPoint, partition: number): Promise<void> {
    if (this.specs.length === 0) return;
    for (const spec of this.due(point, partition)) {
      this.onTrigger(spec, partition);
      switch (spec.action) {
        case 'kill':
          process.kill(process.pid, 'SIGKILL');
          await new Promise<never>(() => undefined);
          break;
        case 'hang':
          await new Promise<never>(() => undefined);
          break;
        case 'hold':
          await this.release?.wait();
          break;
        case 'throw':
          throw new InjectedFault(point, partition);
        case 'stall':
          await new Promise((resolve) => setTimeout(resolve, spec.stallMs));
          break;
        case 'block':
          blockEventLoop(spec.stallMs);
          break;
      }
    }
  }
}
