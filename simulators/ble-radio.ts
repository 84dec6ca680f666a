import { type AdvertisingReport, ReportBindings } from '../drivers/ble-beacons/report-bindings.js';
import type { BleOpenOptions, BleTransport, OpenedBindings } from '../drivers/ble-beacons/transport.js';

/**
 * Simulated BLE adapters: one per HCI index, each a noble bindings object fed with advertising
 * reports (raw AD bytes) that noble's own GAP code parses. The real driver and real noble run on
 * top; only the radio is simulated.
 */
export class SimulatedBleAdapter {
  private bindings: ReportBindings | undefined;
  opens = 0;
  /** When set, `open` fails with this message (no adapter, no permission). */
  failOpen: string | undefined;

  /** Delivers an advertisement; false when nobody is scanning (no driver, adapter off). */
  advertise(r: AdvertisingReport): boolean {
    if (!this.bindings?.scanning) return false;
    this.bindings.report(r);
    return true;
  }

  get scanning(): boolean {
    return this.bindings?.scanning ?? false;
  }

  setPowered(on: boolean): void {
    this.bindings?.setPowered(on);
  }

  async open(): Promise<OpenedBindings> {
    if (this.failOpen) throw new Error(this.failOpen);
    const bindings = await ReportBindings.create();
    this.bindings = bindings;
    this.opens++;
    return bindings.opened(() => {
      if (this.bindings === bindings) this.bindings = undefined;
    });
  }
}

/** A transport with one simulated adapter per HCI index (devices pick theirs with `hciDeviceId`). */
export class SimulatedBleRadio implements BleTransport {
  readonly adapters = new Map<number, SimulatedBleAdapter>();

  adapter(hciDeviceId = 0): SimulatedBleAdapter {
    let a = this.adapters.get(hciDeviceId);
    if (!a) {
      a = new SimulatedBleAdapter();
      this.adapters.set(hciDeviceId, a);
    }
    return a;
  }

  open(options: BleOpenOptions): Promise<OpenedBindings> {
    return this.adapter(options.hciDeviceId ?? 0).open();
  }
}
