import { EventEmitter } from 'node:events';
import { read as fsRead } from 'node:fs';

export interface SerialOpenOptions {
  path: string;
  baudRate: number;
  dataBits: 7 | 8;
  parity: 'none' | 'even' | 'odd';
  stopBits: 1 | 2;
  rtscts: boolean;
}

/** An open serial port: a byte stream that ends with 'close' when the device goes away. */
export interface SerialPortLike extends EventEmitter {
  on(event: 'data', listener: (chunk: Buffer) => void): this;
  on(event: 'close', listener: (err?: Error | null) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  write(data: Buffer): void;
  close(): Promise<void>;
}

export interface SerialPortInfo {
  path: string;
  vendorId?: string;
  productId?: string;
  serialNumber?: string;
  manufacturer?: string;
  pnpId?: string;
}

/** The serial binding contract. `nodeSerialTransport` is the real one; simulators use it on PTYs. */
export interface SerialTransport {
  open(options: SerialOpenOptions): Promise<SerialPortLike>;
  list(): Promise<SerialPortInfo[]>;
}

type SerialPortModule = typeof import('serialport');
let serialportModule: Promise<SerialPortModule> | undefined;

/** Loads `serialport` (a native addon) only when a port is actually used. */
function loadSerialport(): Promise<SerialPortModule> {
  serialportModule ??= import('serialport').catch((err: Error) => {
    serialportModule = undefined;
    throw new Error(`the serialport module cannot be loaded (${err.message}); reinstall with "npm ci"`);
  });
  return serialportModule;
}

/** What `@serialport/bindings-cpp` exposes of an open POSIX port (Linux, macOS); absent on Windows. */
interface PosixPortBinding {
  fd: number | null;
  poller: { once(event: 'readable', listener: (err: Error | null) => void): unknown };
  read(buffer: Buffer, offset: number, length: number): Promise<{ bytesRead: number; buffer: Buffer }>;
}

const isPosixBinding = (b: unknown): b is PosixPortBinding =>
  typeof b === 'object' &&
  b !== null &&
  'fd' in b &&
  typeof (b as PosixPortBinding).fd === 'number' &&
  typeof (b as PosixPortBinding).poller?.once === 'function';

const readOnce = (fd: number, buffer: Buffer, offset: number, length: number) =>
  new Promise<number>((resolve, reject) =>
    fsRead(fd, buffer, offset, length, null, (err, n) => (err ? reject(err) : resolve(n))),
  );

/**
 * Reads from a tty the way `@serialport/bindings-cpp` does, except at end of file. The port is
 * non-blocking with VMIN 1, so no data is EAGAIN and a read of 0 bytes means the tty was hung up: the
 * device was unplugged (a USB serial adapter going away, a PTY whose other side closed). bindings-cpp
 * 13 retries such a read at once, forever: the port never closes, the driver never learns the device
 * is gone and a thread-pool thread spins. Here end of file is a disconnect, which closes the port.
 */
async function readTty(b: PosixPortBinding, buffer: Buffer, offset: number, length: number) {
  for (;;) {
    if (b.fd === null) throw Object.assign(new Error('Port is not open'), { canceled: true });
    let bytesRead: number;
    try {
      bytesRead = await readOnce(b.fd, buffer, offset, length);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EAGAIN' && code !== 'EWOULDBLOCK' && code !== 'EINTR') throw err;
      if (b.fd === null) throw Object.assign(new Error('Port is not open'), { canceled: true });
      await new Promise<void>((resolve, reject) =>
        b.poller.once('readable', (e) => (e ? reject(e) : resolve())),
      );
      continue;
    }
    if (bytesRead === 0) throw Object.assign(new Error('device hung up (end of file)'), { disconnect: true });
    return { bytesRead, buffer };
  }
}

/** Adapts a node-serialport stream to the small contract above. */
class NodeSerialPort extends EventEmitter implements SerialPortLike {
  constructor(private readonly port: import('serialport').SerialPort) {
    super();
    port.on('data', (chunk: Buffer) => this.emit('data', chunk));
    port.on('error', (err: Error) => this.emit('error', err));
    port.on('close', (err?: Error | null) => this.emit('close', err ?? null));
  }

  write(data: Buffer): void {
    this.port.write(data);
  }

  close(): Promise<void> {
    return new Promise<void>((resolve) => {
      if (!this.port.isOpen) return resolve();
      this.port.close(() => resolve());
    });
  }
}

export const nodeSerialTransport: SerialTransport = {
  async open(o) {
    const { SerialPort } = await loadSerialport();
    const port = new SerialPort({
      path: o.path,
      baudRate: o.baudRate,
      dataBits: o.dataBits,
      parity: o.parity,
      stopBits: o.stopBits,
      rtscts: o.rtscts,
      autoOpen: false,
      // The device is ours alone, as UnifiedPOS's Claim() would make it.
      lock: true,
    });
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
    const binding: unknown = port.port;
    if (isPosixBinding(binding))
      binding.read = (buffer, offset, length) => readTty(binding, buffer, offset, length);
    return new NodeSerialPort(port);
  },
  async list() {
    const { SerialPort } = await loadSerialport();
    return SerialPort.list();
  },
};
