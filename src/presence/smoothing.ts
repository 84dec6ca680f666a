/**
 * RSSI smoothing, one smoother per subject and zone. Pure: values and times in, estimate out.
 */
export interface Smoother {
  /** Adds a reading taken at `timeMs`; returns the new estimate (dBm). */
  push(rssi: number, timeMs: number): number;
  readonly value: number;
}

/**
 * A 1-D Kalman filter on RSSI with a random-walk model: the variance grows by `processNoise` dB² per
 * second between readings, each reading has variance `measurementNoise`. room-assistant uses the
 * same filter per reading (kalmanjs R 0.8, Q 15); scaling by time makes it independent of how often
 * a beacon advertises.
 */
export class KalmanSmoother implements Smoother {
  private x = Number.NaN;
  private p = 0;
  private last = 0;

  constructor(
    private readonly processNoise: number,
    private readonly measurementNoise: number,
  ) {}

  push(rssi: number, timeMs: number): number {
    if (Number.isNaN(this.x)) {
      this.x = rssi;
      this.p = this.measurementNoise;
      this.last = timeMs;
      return this.x;
    }
    // Readings arrive at 1–10 Hz; a long gap makes the estimate trust the next reading again.
    const dt = Math.min(Math.max(timeMs - this.last, 0), 60_000) / 1000;
    this.last = Math.max(this.last, timeMs);
    const p = this.p + this.processNoise * Math.max(dt, 0.1);
    const k = p / (p + this.measurementNoise);
    this.x += k * (rssi - this.x);
    this.p = (1 - k) * p;
    return this.x;
  }

  get value(): number {
    return this.x;
  }
}

function quantile(sorted: readonly number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (b - a) * (pos - lo);
}

/**
 * The median of the last `window` readings after dropping those outside [Q1 − k·IQR, Q3 + k·IQR]
 * (ESPresense's approach: robust to the occasional reflection or body-blocked reading).
 */
export class MedianIqrSmoother implements Smoother {
  private readonly samples: number[] = [];
  private current = Number.NaN;

  constructor(
    private readonly window: number,
    private readonly k: number,
  ) {}

  push(rssi: number, _timeMs: number): number {
    this.samples.push(rssi);
    if (this.samples.length > this.window) this.samples.shift();
    const sorted = [...this.samples].sort((a, b) => a - b);
    const q1 = quantile(sorted, 0.25);
    const q3 = quantile(sorted, 0.75);
    const iqr = q3 - q1;
    const kept = sorted.filter((v) => v >= q1 - this.k * iqr && v <= q3 + this.k * iqr);
    this.current = quantile(kept.length > 0 ? kept : sorted, 0.5);
    return this.current;
  }

  get value(): number {
    return this.current;
  }
}

export interface SmoothingOptions {
  smoothing: 'kalman' | 'median';
  kalmanProcessNoise: number;
  kalmanMeasurementNoise: number;
  medianWindow: number;
  medianIqrK: number;
}

export function createSmoother(o: SmoothingOptions): Smoother {
  return o.smoothing === 'median'
    ? new MedianIqrSmoother(o.medianWindow, o.medianIqrK)
    : new KalmanSmoother(o.kalmanProcessNoise, o.kalmanMeasurementNoise);
}

/** Log-distance path loss: d = 10^((RSSI@1m − RSSI) / (10·n)) metres. */
export function logDistance(rssi: number, rssiAt1m: number, n: number): number {
  return 10 ** ((rssiAt1m - rssi) / (10 * n));
}

/** The RSSI the log-distance model predicts at `meters` (used by simulators and tests). */
export function rssiAtDistance(meters: number, rssiAt1m: number, n: number): number {
  return rssiAt1m - 10 * n * Math.log10(Math.max(meters, 0.01));
}
