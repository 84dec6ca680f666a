import { EventEmitter } from 'node:events';
import type { HidDeviceLike, HidTransport } from '../../drivers/hid-scanner/transport.js';
import { loadRecording, play } from './player.js';
import type { Recorder } from './recorder.js';

/**
 * A HID device that plays a recording: its descriptor line, then each input report with its
 * timing. Output and feature reports the driver sends are kept. After the last report the device
 * stays open and quiet.
 */
export class ReplayHidDevice extends EventEmitter implements HidDeviceLike {
  readonly written: Buffer[] = [];
  readonly features: Buffer[] = [];
  private readonly abort = new AbortController();
  readonly done: Promise<void>;

  constructor(
    private readonly descriptor: Buffer | undefined,
    reports: Parameters<typeof play>[0],
    speed: number,
  ) {
    super();
    let started: () => void = () => {};
    const ready = new Promise<void>((resolve) => {
      started = resolve;
    });
    this.on('newListener', (event) => {
      if (event === 'data') process.nextTick(started);
    });
    this.done = ready.then(() => play(reports, speed, (d) => this.emit('data', d), this.abort.signal));
  }

  async getReportDescriptor(): Promise<Buffer | undefined> {
    return this.descriptor;
  }

  async write(data: Buffer): Promise<void> {
    this.written.push(Buffer.from(data));
  }

  async sendFeatureReport(data: Buffer): Promise<void> {
    this.features.push(Buffer.from(data));
  }

  async close(): Promise<void> {
    this.abort.abort();
  }
}

/** A `HidTransport` whose `open(path)` plays the recording at `path`. */
export function replayHidTransport(opts: { speed: number }): HidTransport & { devices: ReplayHidDevice[] } {
  const devices: ReplayHidDevice[] = [];
  return {
    devices,
    async list() {
      return [];
    },
    async open(path) {
      const rec = await loadRecording(path);
      const dev = new ReplayHidDevice(rec.descriptor, rec.entries, opts.speed);
      devices.push(dev);
      return dev;
    },
  };
}

/**
 * Wraps a HID transport so an opened device's report descriptor (once) and every input report are
 * also written to `recorder`. The descriptor is read before any report is taken, so it is the
 * recording's first line.
 */
export function tapHidTransport(inner: HidTransport, recorder: Recorder): HidTransport {
  return {
    list: () => inner.list(),
    async open(path) {
      const dev = await inner.open(path);
      const descriptor = await dev.getReportDescriptor().catch(() => undefined);
      if (descriptor) recorder.descriptor(descriptor);
      dev.on('data', (report) => recorder.chunk(report));
      return dev;
    },
  };
}
