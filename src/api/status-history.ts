import type { Gateway } from '../gateway.js';

/** One sample of the gateway's throughput, taken every `api.statusPage.sampleSec`. */
export interface StatusSample {
  time: string;
  /** Events in the buffer not yet acknowledged by the broker: the buffer depth. */
  bufferRows: number;
  bufferBytes: number;
  connected: boolean;
  inflight: number;
  /** Events committed and acknowledged per second since the previous sample. */
  acceptedPerSec: number;
  publishedPerSec: number;
}

async function total(gateway: Gateway, name: string): Promise<number> {
  const metric = gateway.metrics.registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  return values.reduce((sum, v) => sum + v.value, 0);
}

/**
 * Buffer depth and uplink rate over time, kept in memory for the status page: a ring of
 * `maxSamples` samples taken every `sampleMs`. It reads what /v1/status and /metrics already
 * expose, so sampling costs a few property reads and one page count from SQLite.
 */
export class StatusHistory {
  private readonly samples: StatusSample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private last: { at: number; accepted: number; published: number } | undefined;
  private sampling: Promise<void> | undefined;

  constructor(
    private readonly gateway: Gateway,
    private readonly opts: { sampleMs: number; maxSamples: number },
  ) {}

  start(): void {
    this.tick();
    this.timer = setInterval(() => this.tick(), this.opts.sampleMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.sampling;
  }

  /** The samples, oldest first. */
  list(): readonly StatusSample[] {
    return this.samples;
  }

  get sampleMs(): number {
    return this.opts.sampleMs;
  }

  private tick(): void {
    if (this.sampling !== undefined) return;
    this.sampling = this.sample()
      .catch((err: unknown) => this.gateway.log.debug({ err }, 'status sample failed'))
      .finally(() => {
        this.sampling = undefined;
      });
  }

  /** Takes one sample now (also used by tests, so they need not wait for the timer). */
  async sample(): Promise<void> {
    const { gateway } = this;
    if (!gateway.running) return;
    const status = gateway.status();
    const at = gateway.clock.now();
    const accepted = await total(gateway, 'sg_events_accepted_total');
    const published = await total(gateway, 'sg_events_published_total');
    const prev = this.last;
    const secs = prev ? Math.max(0.001, (at - prev.at) / 1000) : 0;
    const rate = (now: number, before: number | undefined) =>
      prev && before !== undefined ? Math.round(((now - before) / secs) * 10) / 10 : 0;
    this.samples.push({
      time: new Date(at).toISOString(),
      bufferRows: status.buffer?.rows ?? 0,
      bufferBytes: status.buffer?.bytes ?? 0,
      connected: status.uplink?.connected ?? false,
      inflight: status.uplink?.inflight ?? 0,
      acceptedPerSec: rate(accepted, prev?.accepted),
      publishedPerSec: rate(published, prev?.published),
    });
    this.last = { at, accepted, published };
    if (this.samples.length > this.opts.maxSamples)
      this.samples.splice(0, this.samples.length - this.opts.maxSamples);
  }
}
