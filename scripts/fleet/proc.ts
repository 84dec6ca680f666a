import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** CPU time and memory of one process, read from Linux's /proc. */
export interface ProcSample {
  /** User + system CPU seconds since the process started. */
  cpuSec: number;
  /** Resident set size now, bytes. */
  rssBytes: number;
  /** Highest resident set size so far (VmHWM), bytes. */
  peakRssBytes: number;
}

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** The process's figures, or null when it is gone (or /proc is not there). */
export function sampleProc(pid: number): ProcSample | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: the fields after it start after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(rest[11]) + Number(rest[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) =>
      Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
    return { cpuSec: ticks / CLOCK_TICKS, rssBytes: kb('VmRSS'), peakRssBytes: kb('VmHWM') };
  } catch {
    return null;
  }
}

/** CPU used between two samples as a share of one core (1 = one core fully busy). */
export function cpuShare(before: ProcSample | null, after: ProcSample | null, seconds: number): number {
  if (!before || !after || seconds <= 0) return 0;
  return (after.cpuSec - before.cpuSec) / seconds;
}
