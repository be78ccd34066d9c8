/** Tumbling event-time windows of sizeMs, accepting records up to graceMs after the window ends. */
export interface WindowSpec {
  sizeMs: number;
  graceMs: number;
}

/** Epoch-aligned start: floor(t / W) * W, computed with a modulo so it stays exact and rounds down for t < 0. */
export function windowStartFor(timestampMs: number, sizeMs: number): number {
  return timestampMs - (((timestampMs % sizeMs) + sizeMs) % sizeMs);
}

export function windowEndFor(windowStart: number, sizeMs: number): number {
  return windowStart + sizeMs;
}

/** The stream time at which the window's final rollup is emitted and its state dropped. */
export function windowCloseTime(windowStart: number, spec: WindowSpec): number {
  return windowStart + spec.sizeMs + spec.graceMs;
}

/** A task that has seen no valid record yet has no stream time, so nothing can be closed. */
export function isWindowClosed(windowStart: number, spec: WindowSpec, streamTimeMs: number | null): boolean {
  return streamTimeMs !== null && streamTimeMs >= windowCloseTime(windowStart, spec);
}
