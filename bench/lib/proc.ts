/**
 * CPU time and memory of one process from /proc (Linux). The parsers are pure; the readers return undefined once
 * the process is gone, so a poll racing its exit is not an error.
 */
import { readFileSync } from 'node:fs';

export interface CpuTicks {
  /** utime + stime of every thread of the process, in clock ticks (see clockTicksPerSecond). */
  ticks: number;
}

/**
 * Parses /proc/<pid>/stat. The command name (field 2) is in parentheses and may itself hold spaces or
 * parentheses, so fields are counted from the last ')'; utime and stime are fields 14 and 15.
 */
export function parseProcStat(text: string): CpuTicks {
  const close = text.lastIndexOf(')');
  if (close < 0) throw new Error(`not a /proc/<pid>/stat line: ${JSON.stringify(text.slice(0, 80))}`);
  const fields = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  // fields[0] is field 3 (state), so field n is fields[n - 3].
  const utime = Number(fields[14 - 3]);
  const stime = Number(fields[15 - 3]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) {
    throw new Error(`no utime/stime in /proc/<pid>/stat: ${JSON.stringify(text.slice(0, 120))}`);
  }
  return { ticks: utime + stime };
}

export interface MemoryFigures {
  /** Resident set size now, in bytes. */
  rssBytes: number;
  /** Peak resident set size (high-water mark) over the process's life, in bytes. */
  peakRssBytes: number;
}

/** Parses the VmRSS and VmHWM lines of /proc/<pid>/status (values in kB). */
export function parseProcStatus(text: string): MemoryFigures {
  const kb = (name: string): number => {
    const match = new RegExp(`^${name}:\\s+(\\d+)\\s+kB$`, 'm').exec(text);
    if (!match?.[1]) throw new Error(`no ${name} line in /proc/<pid>/status`);
    return Number(match[1]) * 1024;
  };
  return { rssBytes: kb('VmRSS'), peakRssBytes: kb('VmHWM') };
}

function readProc(pid: number, file: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return undefined;
  }
}

export function readCpuTicks(pid: number): number | undefined {
  const text = readProc(pid, 'stat');
  return text === undefined ? undefined : parseProcStat(text).ticks;
}

export function readMemory(pid: number): MemoryFigures | undefined {
  const text = readProc(pid, 'status');
  // A zombie has no Vm* lines any more.
  if (text?.includes('VmRSS:') !== true) return undefined;
  return parseProcStatus(text);
}

/** USER_HZ: 100 on every mainstream Linux; read from getconf when it is there. */
export function parseClockTicks(getconfOutput: string | undefined): number {
  const value = Number(getconfOutput?.trim());
  return Number.isInteger(value) && value > 0 ? value : 100;
}

/** The first "model name" of /proc/cpuinfo and the number of processors listed. */
export function parseCpuInfo(text: string): { model: string; cores: number } {
  const models = [...text.matchAll(/^model name\s*:\s*(.+)$/gm)].map((m) => (m[1] ?? '').trim());
  const processors = [...text.matchAll(/^processor\s*:/gm)].length;
  return { model: models[0] ?? 'unknown', cores: processors };
}
