import { EventEmitter } from 'node:events';
import { hardenGap, type NobleBindings, type OpenedBindings } from './transport.js';

/** One received advertisement, as the controller reports it. The recording line format without `t`. */
export interface AdvertisingReport {
  address: string;
  addressType: 'public' | 'random';
  rssi: number;
  /** Advertising data: AD structures, as sent on air. */
  adv: Buffer;
  /** Scan response data, when the advertiser answered a scan request. */
  scanResponse?: Buffer;
  /** Connectable advertising (ADV_IND); beacons are usually not (ADV_NONCONN_IND). */
  connectable?: boolean;
}

// HCI LE advertising report event types (Core spec Vol 4 Part E 7.7.65.2).
const ADV_IND = 0x00;
const ADV_NONCONN_IND = 0x03;
const SCAN_RSP = 0x04;

type GapLike = EventEmitter & { startScanning(allowDuplicates: boolean): void; stopScanning(): void };

/**
 * noble bindings fed with advertising reports instead of an HCI socket. The reports go through
 * noble's own GAP layer (`lib/hci-socket/gap.js`), which parses the AD bytes exactly as it does for a
 * real adapter; only the socket is replaced. Used by replay (recordings) and the simulators.
 */
export class ReportBindings extends EventEmitter implements NobleBindings {
  private readonly hci = new EventEmitter() as EventEmitter & {
    setScanParameters(): void;
    setScanEnabled(enabled: boolean, filterDuplicates: boolean): void;
  };
  private gap: GapLike | undefined;
  private scanServiceUuids: string[] | undefined;
  private powered = true;
  scanning = false;

  private constructor(Gap: new (hci: EventEmitter) => GapLike) {
    super();
    this.hci.setScanParameters = () => {
      process.nextTick(() => this.hci.emit('leScanParametersSet'));
    };
    this.hci.setScanEnabled = (enabled: boolean) => {
      process.nextTick(() => {
        this.scanning = enabled;
        this.hci.emit('leScanEnableSet', 0);
      });
    };
    this.gap = new Gap(this.hci);
    hardenGap(this.gap);
  }

  /** Loads noble's GAP module (plain JavaScript, no native code) and builds the bindings. */
  static async create(): Promise<ReportBindings> {
    const Gap = (await import('@abandonware/noble/lib/hci-socket/gap.js')).default;
    return new ReportBindings(Gap as unknown as new (hci: EventEmitter) => GapLike);
  }

  init(): void {
    const gap = this.gap as GapLike;
    gap.on('scanStart', (filterDuplicates: boolean) => this.emit('scanStart', filterDuplicates));
    gap.on('scanStop', () => this.emit('scanStop'));
    gap.on(
      'discover',
      (
        _status: number,
        address: string,
        addressType: string,
        connectable: boolean,
        advertisement: unknown,
        rssi: number,
        scannable: boolean,
      ) => {
        // As noble's hci-socket bindings: the peripheral uuid is the address without colons.
        if (this.scanServiceUuids === undefined) return;
        this.emit(
          'discover',
          address.split(':').join(''),
          address,
          addressType,
          connectable,
          advertisement,
          rssi,
          scannable,
        );
      },
    );
    process.nextTick(() => {
      this.emit('addressChange', '00:00:00:00:00:00');
      this.emit('stateChange', this.powered ? 'poweredOn' : 'poweredOff');
    });
  }

  startScanning(serviceUuids: string[] | undefined, allowDuplicates: boolean): void {
    this.scanServiceUuids = serviceUuids ?? [];
    this.gap?.startScanning(allowDuplicates);
  }

  stopScanning(): void {
    this.gap?.stopScanning();
  }

  /** An advertisement (and its scan response) arrives; ignored while not scanning. */
  report(r: AdvertisingReport): void {
    if (!this.scanning || !this.powered) return;
    const type = r.connectable ? ADV_IND : ADV_NONCONN_IND;
    this.hci.emit('leAdvertisingReport', 0, type, r.address.toLowerCase(), r.addressType, r.adv, r.rssi);
    if (r.scanResponse) {
      this.hci.emit(
        'leAdvertisingReport',
        0,
        SCAN_RSP,
        r.address.toLowerCase(),
        r.addressType,
        r.scanResponse,
        r.rssi,
      );
    }
  }

  /** Adapter switched off or on (rfkill, USB dongle pulled): noble reports poweredOff / poweredOn. */
  setPowered(on: boolean): void {
    if (this.powered === on) return;
    this.powered = on;
    if (!on) this.scanning = false;
    this.emit('stateChange', on ? 'poweredOn' : 'poweredOff');
  }

  opened(onClose?: () => void): OpenedBindings {
    return {
      bindings: this,
      close: () => {
        this.scanning = false;
        this.removeAllListeners();
        this.gap?.removeAllListeners();
        onClose?.();
      },
    };
  }
}
