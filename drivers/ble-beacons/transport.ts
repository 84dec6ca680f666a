import type { EventEmitter } from 'node:events';
import type { BleAdvertisement } from './ad.js';

/**
 * noble's bindings contract (what `new Noble(bindings)` drives): an EventEmitter with `init`,
 * `startScanning`, `stopScanning`, that emits `stateChange`, `scanStart`, `scanStop` and
 * `discover(uuid, address, addressType, connectable, advertisement, rssi, scannable)`.
 */
export interface NobleBindings extends EventEmitter {
  init(): void;
  startScanning(serviceUuids: string[] | undefined, allowDuplicates: boolean): void;
  stopScanning(): void;
}

/** The peripheral noble hands to `discover` listeners (the fields the driver reads). */
export interface NoblePeripheral {
  id: string;
  address: string;
  addressType: string;
  connectable: boolean;
  rssi: number;
  advertisement: BleAdvertisement;
}

/** The part of a noble instance the driver uses. */
export interface NobleLike extends EventEmitter {
  readonly state: string;
  startScanning(serviceUuids: string[], allowDuplicates: boolean, callback?: (err?: Error) => void): void;
  stopScanning(callback?: () => void): void;
}

/** Bindings for one adapter, and how to let go of them. */
export interface OpenedBindings {
  bindings: NobleBindings;
  close(): void;
}

export interface BleOpenOptions {
  /** HCI adapter index (hci0 = 0). */
  hciDeviceId?: number;
  /** Bluetooth 5 extended scanning. */
  extended: boolean;
}

/**
 * The BLE binding contract: hands the driver noble bindings for one adapter. The real one talks to
 * the kernel's HCI socket; simulators and replay give advertising reports (raw AD bytes) to noble's
 * own parser. Either way the driver runs noble itself.
 */
export interface BleTransport {
  open(options: BleOpenOptions): Promise<OpenedBindings>;
}

type GapParse = (...args: unknown[]) => unknown;

/**
 * noble's GAP parser throws on some malformed advertising data (an empty Tx Power structure:
 * `readInt8` past the end), inside its HCI event handler, where nothing catches it: one bad
 * advertisement from any device nearby would crash the gateway. This wraps it so such an
 * advertisement parses as empty instead.
 */
export function hardenGap(gap: unknown): void {
  const g = gap as { parseServices?: GapParse; hardened?: boolean } | undefined;
  if (!g?.parseServices || g.hardened) return;
  const parse = g.parseServices.bind(g);
  g.parseServices = (...args: unknown[]) => {
    try {
      return parse(...args);
    } catch {
      return { serviceData: [], serviceUuids: [], serviceSolicitationUuids: [] };
    }
  };
  g.hardened = true;
}

type HciBindings = EventEmitter & {
  _gap?: unknown;
  _hci?: { pollIsDevUp?: () => void; _socket?: { stop?: () => void; removeAllListeners?: () => void } };
  onSigIntBinded?: (...args: unknown[]) => void;
};

/**
 * The real adapter: noble's hci-socket bindings, imported on first use. Creating them opens an HCI
 * socket, which throws (EAFNOSUPPORT, EPERM…) where there is no Bluetooth or no permission; the
 * driver then reports the device unavailable and retries.
 */
export const nobleHciTransport: BleTransport = {
  async open(options) {
    let Bindings: typeof import('@abandonware/noble/lib/hci-socket/bindings.js').default;
    try {
      Bindings = (await import('@abandonware/noble/lib/hci-socket/bindings.js')).default;
    } catch (err) {
      throw new Error(
        `the noble module cannot be loaded (${(err as Error).message}); reinstall with "npm ci"`,
      );
    }
    const bindings = new Bindings({
      ...(options.hciDeviceId === undefined ? {} : { deviceId: options.hciDeviceId }),
      extended: options.extended,
    }) as unknown as HciBindings & NobleBindings;
    hardenGap(bindings._gap);
    return {
      bindings,
      close() {
        // noble exits the process on SIGINT if its handler is the last one; the gateway stops itself.
        if (bindings.onSigIntBinded) process.removeListener('SIGINT', bindings.onSigIntBinded);
        const hci = bindings._hci;
        if (hci) {
          // noble polls the adapter every second forever; stop it so the process can exit.
          hci.pollIsDevUp = () => {};
          hci._socket?.removeAllListeners?.();
          hci._socket?.stop?.();
        }
        bindings.removeAllListeners();
      },
    };
  },
};

/** Builds a noble instance on the given bindings (noble's `with-bindings` entry; loads nothing native). */
export async function nobleWithBindings(bindings: NobleBindings): Promise<NobleLike> {
  const withBindings = (await import('@abandonware/noble/with-bindings.js')).default;
  return withBindings(bindings) as NobleLike;
}
