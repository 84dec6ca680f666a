import { EventEmitter } from 'node:events';

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
    return new NodeSerialPort(port);
  },
  async list() {
    const { SerialPort } = await loadSerialport();
    return SerialPort.list();
  },
};
