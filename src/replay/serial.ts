import { EventEmitter } from 'node:events';
import type {
  SerialOpenOptions,
  SerialPortLike,
  SerialTransport,
} from '../../drivers/serial-scanner/transport.js';
import { loadRecording, play } from './player.js';
import type { Recorder } from './recorder.js';

/**
 * A serial port that plays a recording: each chunk arrives as it was read. Bytes the driver writes
 * (SSI ACKs, host commands) are kept in `written`. After the last chunk the port stays open and
 * quiet, like a scanner nobody uses, so the driver does not reopen and replay it again.
 */
export class ReplaySerialPort extends EventEmitter implements SerialPortLike {
  readonly written: Buffer[] = [];
  private readonly abort = new AbortController();
  /** Resolves when every chunk has been delivered (or the port was closed). */
  readonly done: Promise<void>;

  constructor(chunks: Parameters<typeof play>[0], speed: number) {
    super();
    let started: () => void = () => {};
    const ready = new Promise<void>((resolve) => {
      started = resolve;
    });
    // Play once the driver listens, as a real port only delivers to a reader.
    this.on('newListener', (event) => {
      if (event === 'data') process.nextTick(started);
    });
    this.done = ready.then(() => play(chunks, speed, (d) => this.emit('data', d), this.abort.signal));
  }

  write(data: Buffer): void {
    this.written.push(Buffer.from(data));
  }

  async close(): Promise<void> {
    this.abort.abort();
  }
}

/** A `SerialTransport` whose `open(path)` plays the recording at `path`. */
export function replaySerialTransport(opts: {
  speed: number;
}): SerialTransport & { ports: ReplaySerialPort[] } {
  const ports: ReplaySerialPort[] = [];
  return {
    ports,
    async open(o: SerialOpenOptions) {
      const rec = await loadRecording(o.path);
      const port = new ReplaySerialPort(rec.entries, opts.speed);
      ports.push(port);
      return port;
    },
    async list() {
      return [];
    },
  };
}

/** Wraps a serial transport so every chunk read from an opened port is also written to `recorder`. */
export function tapSerialTransport(inner: SerialTransport, recorder: Recorder): SerialTransport {
  return {
    list: () => inner.list(),
    async open(o) {
      const port = await inner.open(o);
      port.on('data', (chunk) => recorder.chunk(chunk));
      return port;
    },
  };
}
