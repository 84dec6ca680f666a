import { EventEmitter } from 'node:events';
import { readFile, realpath } from 'node:fs/promises';
import { basename } from 'node:path';

export interface HidDeviceInfo {
  /** Opaque path to open (on Linux: /dev/hidrawN). */
  path: string;
  vendorId: number;
  productId: number;
  serialNumber?: string;
  usagePage?: number;
  usage?: number;
  manufacturer?: string;
  product?: string;
  interface?: number;
}

/**
 * An open HID interface. 'data' carries one input report, report id first when the device numbers
 * its reports. 'error' means the device is gone or failed; the driver then closes it.
 */
export interface HidDeviceLike extends EventEmitter {
  on(event: 'data', listener: (report: Buffer) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  /** The report descriptor, or `undefined` where the platform cannot give it. */
  getReportDescriptor(): Promise<Buffer | undefined>;
  /** Output report, report id first (0 when the device uses none). */
  write(data: Buffer): Promise<void>;
  sendFeatureReport(data: Buffer): Promise<void>;
  close(): Promise<void>;
}

/** The HID binding contract. `nodeHidTransport` is the real one; simulators and replay implement it too. */
export interface HidTransport {
  list(): Promise<HidDeviceInfo[]>;
  open(path: string): Promise<HidDeviceLike>;
}

type NodeHidModule = typeof import('node-hid');
let nodeHidModule: Promise<NodeHidModule> | undefined;

/** Loads node-hid (a native addon needing libusb-1.0 and hidraw) only when a HID device is used. */
function loadNodeHid(): Promise<NodeHidModule> {
  nodeHidModule ??= import('node-hid')
    .then((m) => ((m as { default?: NodeHidModule }).default ?? m) as NodeHidModule)
    .catch((err: Error) => {
      nodeHidModule = undefined;
      throw new Error(
        `the node-hid module cannot be loaded (${err.message}); install libusb-1.0-0 and reinstall with "npm ci"`,
      );
    });
  return nodeHidModule;
}

/**
 * The report descriptor of a hidraw device, from sysfs. node-hid does not expose it, but Linux
 * publishes it for every hidraw node.
 */
async function sysfsDescriptor(path: string): Promise<Buffer | undefined> {
  try {
    const node = basename(await realpath(path));
    if (!/^hidraw\d+$/.test(node)) return undefined;
    return await readFile(`/sys/class/hidraw/${node}/device/report_descriptor`);
  } catch {
    return undefined;
  }
}

class NodeHidDevice extends EventEmitter implements HidDeviceLike {
  private closed = false;

  constructor(
    private readonly dev: import('node-hid').HIDAsync,
    private readonly path: string,
  ) {
    super();
    dev.on('data', (report: Buffer) => this.emit('data', Buffer.from(report)));
    dev.on('error', (err: Error) => {
      if (!this.closed) this.emit('error', err instanceof Error ? err : new Error(String(err)));
    });
  }

  getReportDescriptor(): Promise<Buffer | undefined> {
    return sysfsDescriptor(this.path);
  }

  async write(data: Buffer): Promise<void> {
    await this.dev.write(data);
  }

  async sendFeatureReport(data: Buffer): Promise<void> {
    await this.dev.sendFeatureReport(data);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.dev.close().catch(() => undefined);
  }
}

export const nodeHidTransport: HidTransport = {
  async list() {
    const hid = await loadNodeHid();
    const devices = await hid.devicesAsync();
    return devices
      .filter((d): d is typeof d & { path: string } => typeof d.path === 'string')
      .map((d) => ({
        path: d.path,
        vendorId: d.vendorId,
        productId: d.productId,
        ...(d.serialNumber ? { serialNumber: d.serialNumber } : {}),
        ...(d.usagePage !== undefined ? { usagePage: d.usagePage } : {}),
        ...(d.usage !== undefined ? { usage: d.usage } : {}),
        ...(d.manufacturer ? { manufacturer: d.manufacturer } : {}),
        ...(d.product ? { product: d.product } : {}),
        interface: d.interface,
      }));
  },
  async open(path) {
    const hid = await loadNodeHid();
    // A udev link (/dev/scanner-lane-1) works too: hidapi wants the real node.
    const real = await realpath(path).catch(() => path);
    const dev = await hid.HIDAsync.open(real);
    return new NodeHidDevice(dev, real);
  },
};
