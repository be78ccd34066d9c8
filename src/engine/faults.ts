/**
 * Test-only fault injection (EOS_ROLLUP_FAULT). Names a point in a task's transaction lifecycle, which hit
 * triggers it, optionally one partition, and the action:
 *   EOS_ROLLUP_FAULT="<point>@<n>[/p<partition>]:<kill|hang|throw>"   e.g. "after-send-offsets@3/p1:kill"
 * Several specs may be given, separated by commas. `kill` sends SIGKILL to this process (no cleanup at all),
 * `hang` never returns (a zombie), `throw` raises a retriable InjectedFault the engine must recover from.
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
] as const;
export type FaultPoint = (typeof FAULT_POINTS)[number];
export type FaultAction = 'kill' | 'hang' | 'throw';

export interface FaultSpec {
  point: FaultPoint;
  nth: number;
  partition: number | undefined;
  action: FaultAction;
}

const SPEC = /^([a-z-]+)@(\d+)(?:\/p(\d+))?:(kill|hang|throw)$/;

export function parseFaultSpecs(raw: string | undefined): FaultSpec[] {
  if (!raw) return [];
  return raw.split(',').map((text) => {
    const match = SPEC.exec(text.trim());
    const point = match?.[1] as FaultPoint | undefined;
    if (!match || !point || !FAULT_POINTS.includes(point) || Number(match[2]) < 1) {
      throw new Error(
        `EOS_ROLLUP_FAULT="${raw}" is not allowed: expected <point>@<n>[/p<partition>]:<kill|hang|throw> with point one of ${FAULT_POINTS.join(', ')}`,
      );
    }
    return {
      point,
      nth: Number(match[2]),
      partition: match[3] === undefined ? undefined : Number(match[3]),
      action: match[4] as FaultAction,
    };
  });
}

export class InjectedFault extends RetriableError {
  constructor(point: FaultPoint, partition: number) {
    super('KAFKA_RETRIABLE', `injected fault at ${point} on partition ${partition}`);
  }
}

export class FaultInjector {
  private readonly hits = new Map<string, number>();

  constructor(
    private readonly specs: readonly FaultSpec[],
    private readonly onTrigger: (spec: FaultSpec, partition: number) => void = () => undefined,
  ) {}

  get isArmed(): boolean {
    return this.specs.length > 0;
  }

  async hit(point: FaultPoint, partition: number): Promise<void> {
    if (this.specs.length === 0) return;
    for (const spec of this.specs) {
      if (spec.point !== point || (spec.partition !== undefined && spec.partition !== partition)) continue;
      const key = `${point}/${spec.partition ?? '*'}`;
      const count = (this.hits.get(key) ?? 0) + 1;
      this.hits.set(key, count);
      if (count !== spec.nth) continue;
      this.onTrigger(spec, partition);
      switch (spec.action) {
        case 'kill':
          process.kill(process.pid, 'SIGKILL');
          await new Promise<never>(() => undefined);
          break;
        case 'hang':
          await new Promise<never>(() => undefined);
          break;
        case 'throw':
          throw new InjectedFault(point, partition);
      }
    }
  }
}
