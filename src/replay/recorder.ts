import { closeSync, openSync, writeSync } from 'node:fs';
import { formatDescriptor, formatEntry } from './format.js';

/**
 * Writes a recording file as data arrives: one line per chunk, flushed to the file at once, so a
 * capture cut short by Ctrl-C or an unplug keeps everything read until then.
 */
export class Recorder {
  private fd: number | undefined;
  private readonly start = performance.now();
  private wroteDescriptor = false;
  chunks = 0;
  bytes = 0;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'w');
  }

  /** The report descriptor, written once (before the first report). */
  descriptor(bytes: Uint8Array): void {
    if (this.wroteDescriptor || this.fd === undefined) return;
    this.wroteDescriptor = true;
    writeSync(this.fd, formatDescriptor(bytes));
  }

  chunk(data: Uint8Array): void {
    if (this.fd === undefined) return;
    writeSync(this.fd, formatEntry(Math.round(performance.now() - this.start), data));
    this.chunks++;
    this.bytes += data.length;
  }

  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }
}
