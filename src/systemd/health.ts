import { performance } from 'node:perf_hooks';
import type { Gateway } from '../gateway.js';

/*
 * What the watchdog asks before each ping. Each check reads state the gateway already keeps (no
 * probe writes, no extra hooks in the data path) and answers null when healthy, or one short
 * sentence saying what is wrong. A failing check only withholds the ping: systemd acts when no
 * ping has come for WatchdogSec, so a short hiccup delays one ping and a lasting fault restarts the
 * service.
 */

/**
 * Largest event-loop delay since the previous sample, in ms: a timer every `everyMs` notes how late
 * it runs. (perf_hooks' monitorEventLoopDelay loses the first interval after each reset(), so a
 * stall right after a check would go unseen.)
 */
export class LoopLag {
  private last = performance.now();
  private max = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly everyMs = 100) {
    this.timer = setInterval(() => this.note(), everyMs);
    this.timer.unref();
  }

  private note(): void {
    const now = performance.now();
    this.max = Math.max(this.max, now - this.last - this.everyMs);
    this.last = now;
  }

  /** The worst delay since the last call, then starts a new period. */
  sample(): number {
    const worst = Math.max(0, Math.round(this.max));
    this.max = 0;
    return worst;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

export interface HealthOptions {
  /** Worst event-loop delay accepted between two checks. */
  maxLagMs: number;
  /** How long there may be no running gateway (an apply-config or SIGHUP restart in progress). */
  restartGraceMs: number;
  /** Extra time on top of the longest reconnect delay and connect timeout before the uplink counts as stalled. */
  uplinkSlackMs: number;
}

export const DEFAULT_HEALTH: HealthOptions = {
  maxLagMs: 5000,
  restartGraceMs: 180_000,
  uplinkSlackMs: 10_000,
};

export interface HealthReport {
  ok: boolean;
  problems: string[];
  /** A one-line summary for systemd's STATUS= (shown by `systemctl status`). */
  summary: string;
}

/** Per-gateway baselines: a restart builds a new gateway, and the checks start over with it. */
interface Baseline {
  gateway: Gateway;
  lastBirth: number;
  uplinkProgressAt: number;
  ioRefusals: number;
  committedSeq: number;
}

/** Total refusals for write errors (GW_ERR_BUFFER_IO) across event classes. */
async function ioRefusals(gateway: Gateway): Promise<number> {
  const metric = await gateway.metrics.refused.get();
  return metric.values.filter((v) => v.labels.reason === 'io').reduce((sum, v) => sum + v.value, 0);
}

/**
 * The gateway's health as the watchdog sees it: the event loop keeps up, the buffer is open and
 * commits succeed, and the uplink is connected or still trying.
 */
export class HealthChecks {
  private baseline: Baseline | undefined;
  private missingSince: number | undefined;

  constructor(
    private readonly current: () => Gateway | undefined,
    private readonly lag: { sample(): number },
    private readonly opts: HealthOptions = DEFAULT_HEALTH,
    private readonly now: () => number = Date.now,
  ) {}

  /** `lateMs`: how late the caller's own timer fired (a stall that delayed the check itself). */
  async run(lateMs = 0): Promise<HealthReport> {
    const problems: string[] = [];
    const lagMs = Math.max(this.lag.sample(), Math.round(lateMs));
    if (lagMs > this.opts.maxLagMs) {
      problems.push(`event loop lag ${lagMs} ms (limit ${this.opts.maxLagMs} ms)`);
    }
    const gateway = this.current();
    if (!gateway) return this.restarting(problems);
    this.missingSince = undefined;
    const status = gateway.status();
    if (status.state !== 'running') {
      problems.push(`gateway ${status.state}`);
      return report(problems, `gateway ${status.state}`);
    }
    const base = this.baselineFor(gateway);
    problems.push(...(await this.bufferProblems(gateway, base)));
    const uplink = this.uplinkProblem(gateway, base);
    if (uplink) problems.push(uplink);
    return report(problems, summarize(status));
  }

  private restarting(problems: string[]): HealthReport {
    const now = this.now();
    this.missingSince ??= now;
    const forMs = now - this.missingSince;
    if (forMs > this.opts.restartGraceMs) {
      problems.push(`no gateway running for ${Math.round(forMs / 1000)} s`);
    }
    return report(problems, 'restarting the gateway');
  }

  private baselineFor(gateway: Gateway): Baseline {
    if (this.baseline?.gateway !== gateway) {
      this.baseline = {
        gateway,
        lastBirth: gateway.uplink.status().birth,
        uplinkProgressAt: this.now(),
        ioRefusals: Number.NaN, // set by the first buffer check
        committedSeq: gateway.outbox.lastCommittedSeq,
      };
    }
    return this.baseline;
  }

  /** Open, and not refusing events for write errors without a single successful commit meanwhile. */
  private async bufferProblems(gateway: Gateway, base: Baseline): Promise<string[]> {
    const outbox = gateway.outbox;
    if (!outbox.isOpen) return ['buffer closed'];
    const refused = await ioRefusals(gateway);
    const seq = outbox.lastCommittedSeq;
    const failing = !Number.isNaN(base.ioRefusals) && refused > base.ioRefusals && seq === base.committedSeq;
    base.ioRefusals = refused;
    base.committedSeq = seq;
    return failing
      ? ['buffer commits are failing (write errors, nothing committed since the last check)']
      : [];
  }

  /**
   * Every connection attempt bumps the uplink's birth counter. Connected, or a new attempt within
   * the longest backoff plus the connect timeout, means the reconnect loop is alive.
   */
  private uplinkProblem(gateway: Gateway, base: Baseline): string | null {
    const s = gateway.uplink.status();
    const now = this.now();
    if (s.connected || s.birth !== base.lastBirth) {
      base.lastBirth = s.birth;
      base.uplinkProgressAt = now;
      return null;
    }
    const { reconnect, connectTimeoutMs } = gateway.config.mqtt;
    const limit = reconnect.maxMs + connectTimeoutMs + this.opts.uplinkSlackMs;
    const idle = now - base.uplinkProgressAt;
    if (idle <= limit) return null;
    return `uplink stalled: disconnected and no connection attempt for ${Math.round(idle / 1000)} s`;
  }
}

function report(problems: string[], summary: string): HealthReport {
  return { ok: problems.length === 0, problems, summary };
}

/** "broker connected, 2/3 devices connected, 12 events waiting" */
export function summarize(status: ReturnType<Gateway['status']>): string {
  const u = status.uplink;
  const broker = !u
    ? 'no uplink'
    : u.connected
      ? 'broker connected'
      : `broker disconnected${u.lastError ? ` (${u.lastError})` : ''}`;
  const connected = status.devices.filter((d) => d.state === 'connected').length;
  const devices = `${connected}/${status.devices.length} devices connected`;
  const rows = status.buffer?.rows ?? 0;
  const refusing = status.buffer?.refusing ? ', buffer full: refusing scans' : '';
  return `${broker}, ${devices}, ${rows} event${rows === 1 ? '' : 's'} waiting${refusing}`;
}
