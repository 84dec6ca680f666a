import { EventEmitter } from 'node:events';
import { parseReportDescriptor } from '../drivers/hid-scanner/descriptor.js';
import { KEY, type KeyboardLayout, LAYOUTS, type LayoutName, MOD } from '../drivers/hid-scanner/layouts.js';
import { findPosLayout, type PosLayout } from '../drivers/hid-scanner/pos.js';
import type { HidDeviceInfo, HidDeviceLike, HidTransport } from '../drivers/hid-scanner/transport.js';

// ---------------------------------------------------------------------------------------------
// Report descriptors
// ---------------------------------------------------------------------------------------------

/** The boot keyboard descriptor of HID 1.11 Appendix B.1 (8-byte input report, no report id). */
export const BOOT_KEYBOARD_DESCRIPTOR = Buffer.from(
  '05010906a101050719e029e71500250175019508810295017508810195057501050819012905910295017503910195067508' +
    '150025650507190029658100c0',
  'hex',
);

/** The same keyboard as report id 1 of a composite interface (as many scanners present it). */
export const KEYBOARD_WITH_ID_DESCRIPTOR = Buffer.from(
  '05010906a101850105071' + '9e029e71500250175019508810295017508810195067508150025650507190029658100c0',
  'hex',
);

/**
 * A HID POS scanner descriptor laid out like Honeywell's 64-byte scanned-data report (PROTOCOLS
 * §2b): report id 2; byte count (Generic Desktop 0x3B); symbology identifiers 1–3 (the AIM id);
 * 56 bytes of decoded data; a vendor code-id byte and a reserved byte; the "decode data continued"
 * bit. Plus output report 4 (trigger/beep) and feature report 0xFE, as Honeywell has them.
 */
export const HONEYWELL_POS_DESCRIPTOR = Buffer.from(
  [
    ['06 8c 00', 'usage page: bar code scanner'],
    ['09 02', 'usage: bar code scanner'],
    ['a1 01', 'collection (application)'],
    ['09 12', '  usage: scanned data report'],
    ['a1 02', '  collection (logical)'],
    ['85 02', '    report id 2'],
    ['15 00 26 ff 00 75 08 95 01', '    logical 0..255, 8 bits, count 1'],
    ['05 01 09 3b 81 02', '    generic desktop: byte count, input'],
    ['05 8c 09 fb 09 fc 09 fd 95 03 81 02', '    symbology identifier 1..3, input'],
    ['09 fe 95 38 82 02 01', '    decoded data x56, input (buffered bytes)'],
    ['06 66 ff 09 01 09 02 95 02 81 02', '    vendor: code id, reserved'],
    ['05 8c 09 ff 25 01 75 01 95 01 81 02', '    decode data continued, 1 bit'],
    ['75 07 81 03', '    padding'],
    ['c0', '  end collection'],
    ['09 14 a1 02 85 04', '  trigger report, report id 4'],
    ['06 66 ff 09 03 26 ff 00 75 08 95 3f 91 02 c0', '    vendor output x63'],
    ['09 10 a1 02 85 fe 09 04 95 01 b1 02 c0', '  feature 0xFE: output redirection'],
    ['c0', 'end collection'],
  ]
    .map(([hex]) => hex)
    .join(' ')
    .split(' ')
    .map((h) => Number.parseInt(h as string, 16)),
);

/**
 * A second HID POS layout, like Newland's: no AIM fields, data at bytes 2–57, the vendor
 * symbology byte at 62 and the continuation bit in byte 63. Offsets differ from Honeywell's, so
 * only a descriptor-driven decoder reads both.
 */
export const NEWLAND_POS_DESCRIPTOR = Buffer.from(
  [
    '06 8c 00 09 02 a1 01',
    '09 12 a1 02 85 02',
    '15 00 26 ff 00 75 08 95 01 05 01 09 3b 81 02',
    '05 8c 09 fe 95 38 82 02 01',
    '95 04 81 03',
    '06 00 ff 09 10 95 01 81 02',
    '05 8c 09 ff 25 01 75 01 95 01 81 02 75 07 81 03',
    'c0 c0',
  ]
    .join(' ')
    .split(' ')
    .map((h) => Number.parseInt(h, 16)),
);

// ---------------------------------------------------------------------------------------------
// Keyboard wedge
// ---------------------------------------------------------------------------------------------

interface Stroke {
  usage: number;
  mods: number;
  dead?: boolean;
}

const LEVEL_MODS = [0, MOD.lshift, MOD.ralt, MOD.lshift | MOD.ralt];
const CONTROL_POSITIONS: Record<number, Stroke> = {
  0: { usage: 0x1f, mods: MOD.lctrl | MOD.lshift },
  27: { usage: 0x2f, mods: MOD.lctrl },
  28: { usage: 0x31, mods: MOD.lctrl },
  29: { usage: 0x30, mods: MOD.lctrl },
  30: { usage: 0x23, mods: MOD.lctrl | MOD.lshift },
  31: { usage: 0x2d, mods: MOD.lctrl | MOD.lshift },
};

const strokeTables = new Map<LayoutName, Map<string, Stroke>>();

/** Character → keystroke for a layout: the lowest usage and level that types it; dead keys last. */
function strokes(layout: KeyboardLayout): Map<string, Stroke> {
  const cached = strokeTables.get(layout.name);
  if (cached) return cached;
  const table = new Map<string, Stroke>();
  // ISO keyboards (UK, DE, FR) have the hash key at usage 0x32, not the US backslash key 0x31.
  const rank = (u: number) => (u === 0x31 && layout.name !== 'us' ? 0x32 + 0.5 : u);
  const usages = [...layout.keys.keys()].sort((a, b) => rank(a) - rank(b));
  for (const deadPass of [false, true]) {
    for (const usage of usages) {
      const def = layout.keys.get(usage) ?? [];
      def.forEach((out, level) => {
        if (out === undefined) return;
        const isDead = typeof out !== 'string';
        if (isDead !== deadPass) return;
        const ch = typeof out === 'string' ? out : out.dead;
        if (!table.has(ch)) table.set(ch, { usage, mods: LEVEL_MODS[level] as number, dead: isDead });
      });
    }
  }
  table.set('\r', { usage: KEY.enter, mods: 0 });
  table.set('\t', { usage: KEY.tab, mods: 0 });
  for (const [code, s] of Object.entries(CONTROL_POSITIONS)) table.set(String.fromCharCode(Number(code)), s);
  for (let i = 0; i < 26; i++) {
    const letter = table.get(String.fromCharCode(0x61 + i));
    if (letter) table.set(String.fromCharCode(i + 1), { usage: letter.usage, mods: MOD.lctrl });
  }
  strokeTables.set(layout.name, table);
  return table;
}

/** Whether every character of `text` can be typed on `layout`. */
export function typeable(text: string, layout: LayoutName): boolean {
  const table = strokes(LAYOUTS[layout]);
  return [...text].every((c) => table.has(c));
}

export type WedgeTerminatorKey = 'enter' | 'keypad-enter' | 'tab' | 'none';

/**
 * The boot-keyboard reports a wedge scanner set to `layout` sends for `text`: per character a
 * key-down report and an all-up report; a dead-key character is the dead key then Space. Throws on a
 * character the layout cannot type.
 */
export function encodeWedge(
  text: string,
  layout: LayoutName,
  opts: { terminator?: WedgeTerminatorKey; reportId?: number } = {},
): Buffer[] {
  const table = strokes(LAYOUTS[layout]);
  const reports: Buffer[] = [];
  const press = (usage: number, mods: number) => {
    reports.push(keyReport(mods, usage, opts.reportId));
    reports.push(keyReport(0, 0, opts.reportId));
  };
  for (const ch of text) {
    const s = table.get(ch);
    if (!s)
      throw new Error(`layout ${layout} cannot type U+${ch.codePointAt(0)?.toString(16).padStart(4, '0')}`);
    press(s.usage, s.mods);
    if (s.dead) press(KEY.space, 0);
  }
  const term = opts.terminator ?? 'enter';
  if (term === 'enter') press(KEY.enter, 0);
  else if (term === 'keypad-enter') press(KEY.keypadEnter, 0);
  else if (term === 'tab') press(KEY.tab, 0);
  return reports;
}

function keyReport(mods: number, usage: number, reportId: number | undefined): Buffer {
  const body = [mods, 0, usage, 0, 0, 0, 0, 0];
  return Buffer.from(reportId === undefined ? body : [reportId, ...body]);
}

// ---------------------------------------------------------------------------------------------
// HID POS
// ---------------------------------------------------------------------------------------------

/** The scanned-data layout of a descriptor (throws if it is not a HID POS one: a test fixture error). */
export function posLayoutOf(descriptor: Uint8Array): PosLayout {
  const parsed = parseReportDescriptor(descriptor);
  if (!parsed.ok) throw new Error(`bad descriptor: ${parsed.error}`);
  const layout = findPosLayout(parsed.value);
  if (!layout.ok) throw new Error(`not a HID POS descriptor: ${layout.error}`);
  return layout.value;
}

function setBits(buf: Buffer, bitOffset: number, size: number, value: number): void {
  for (let i = 0; i < size; i++) {
    const bit = bitOffset + i;
    if (Math.floor(value / 2 ** i) % 2 === 1) buf[bit >> 3] = (buf[bit >> 3] as number) | (1 << (bit & 7));
  }
}

/**
 * The input reports a HID POS scanner with `descriptor` sends for one barcode: the data cut into
 * pieces of `chunks[i]` bytes (default: as full as each report allows), every report but the last
 * with "decode data continued" set. The AIM id and code id go into every report, as Honeywell does.
 */
export function encodePosReports(
  data: Uint8Array,
  descriptor: Uint8Array,
  opts: { aim?: string; codeId?: string; chunks?: readonly number[] } = {},
): Buffer[] {
  const layout = posLayoutOf(descriptor);
  const room = layout.data.length;
  const pieces: Buffer[] = [];
  let at = 0;
  let i = 0;
  do {
    const want = opts.chunks?.[i++] ?? room;
    const n = Math.max(1, Math.min(want, room, data.length - at));
    pieces.push(Buffer.from(data.subarray(at, at + n)));
    at += n;
  } while (at < data.length);
  if (pieces.length > 1 && layout.continued === undefined)
    throw new Error('this descriptor has no continuation bit: the data must fit one report');
  return pieces.map((piece, k) => {
    const body = Buffer.alloc(layout.bytes);
    piece.copy(body, layout.data.bitOffset / 8);
    if (layout.length) setBits(body, layout.length.bitOffset, layout.length.size, piece.length);
    if (layout.aim && opts.aim) {
      for (const [j, o] of layout.aim.entries()) setBits(body, o, 8, opts.aim.charCodeAt(j));
    }
    if (layout.codeId !== undefined && opts.codeId)
      setBits(body, layout.codeId, 8, opts.codeId.charCodeAt(0));
    if (layout.continued !== undefined && k < pieces.length - 1) setBits(body, layout.continued, 1, 1);
    return layout.usesReportIds ? Buffer.concat([Buffer.of(layout.reportId), body]) : body;
  });
}

// ---------------------------------------------------------------------------------------------
// The simulated device
// ---------------------------------------------------------------------------------------------

export interface SimulatedHidOptions {
  mode: 'keyboard-wedge' | 'hid-pos';
  info?: Partial<HidDeviceInfo>;
  /** Wedge: the scanner's keyboard country. */
  layout?: LayoutName;
  terminator?: WedgeTerminatorKey;
  /** Default: the boot keyboard (wedge) or the Honeywell-like descriptor (HID POS); null: none available. */
  descriptor?: Buffer | null;
}

class SimulatedHidDevice extends EventEmitter implements HidDeviceLike {
  closed = false;
  constructor(private readonly owner: SimulatedHidScanner) {
    super();
  }

  async getReportDescriptor(): Promise<Buffer | undefined> {
    return this.owner.descriptor ?? undefined;
  }

  async write(data: Buffer): Promise<void> {
    if (this.closed) throw new Error('device closed');
    this.owner.written.push(Buffer.from(data));
  }

  async sendFeatureReport(data: Buffer): Promise<void> {
    if (this.closed) throw new Error('device closed');
    this.owner.features.push(Buffer.from(data));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.owner.forget(this);
  }
}

/**
 * A USB HID barcode scanner as a `HidTransport`: it lists itself while plugged in, opens like
 * node-hid, and sends real report byte sequences for each scan. `unplug()` fails the open device
 * with an error, as node-hid reports a vanished device.
 */
export class SimulatedHidScanner implements HidTransport {
  readonly info: HidDeviceInfo;
  readonly descriptor: Buffer | null;
  readonly written: Buffer[] = [];
  readonly features: Buffer[] = [];
  /** Every report sent, for building recordings and fixtures. */
  readonly sent: Buffer[] = [];
  private plugged = true;
  private open_: SimulatedHidDevice[] = [];

  constructor(readonly options: SimulatedHidOptions) {
    const pos = options.mode === 'hid-pos';
    this.info = {
      path: '/dev/hidraw-sim0',
      vendorId: 0x0c2e,
      productId: pos ? 0x0b87 : 0x0b81,
      serialNumber: 'SIM0001',
      usagePage: pos ? 0x8c : 0x01,
      usage: pos ? 0x02 : 0x06,
      manufacturer: 'Simulated',
      product: pos ? 'HID POS scanner' : 'Keyboard wedge scanner',
      interface: 0,
      ...options.info,
    };
    this.descriptor =
      options.descriptor === undefined
        ? pos
          ? HONEYWELL_POS_DESCRIPTOR
          : BOOT_KEYBOARD_DESCRIPTOR
        : options.descriptor;
  }

  get isOpen(): boolean {
    return this.open_.length > 0;
  }

  async list(): Promise<HidDeviceInfo[]> {
    return this.plugged ? [{ ...this.info }] : [];
  }

  async open(path: string): Promise<HidDeviceLike> {
    if (!this.plugged || path !== this.info.path) throw new Error(`cannot open device with path ${path}`);
    const dev = new SimulatedHidDevice(this);
    this.open_.push(dev);
    return dev;
  }

  forget(dev: SimulatedHidDevice): void {
    this.open_ = this.open_.filter((d) => d !== dev);
  }

  plug(): void {
    this.plugged = true;
  }

  /** The device vanishes: open handles fail with an error, and it is no longer listed. */
  unplug(): void {
    this.plugged = false;
    for (const d of this.open_) d.emit('error', new Error('could not read from HID device'));
  }

  /** The reports one scan produces in this scanner's mode. */
  reports(code: { text: string; aim?: string; codeId?: string }, chunks?: readonly number[]): Buffer[] {
    const { options } = this;
    if (options.mode === 'keyboard-wedge') {
      const text = (code.aim ?? '') + code.text;
      return encodeWedge(text, options.layout ?? 'us', { terminator: options.terminator ?? 'enter' });
    }
    if (!this.descriptor) throw new Error('a HID POS scanner needs a descriptor');
    return encodePosReports(Buffer.from(code.text, 'utf8'), this.descriptor, {
      ...code,
      ...(chunks ? { chunks } : {}),
    });
  }

  /** Sends one scan, report by report (each in its own turn of the event loop, as USB interrupts come). */
  async scan(
    code: { text: string; aim?: string; codeId?: string },
    chunks?: readonly number[],
  ): Promise<void> {
    await this.send(this.reports(code, chunks));
  }

  async send(reports: readonly Buffer[]): Promise<void> {
    for (const r of reports) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      this.sent.push(Buffer.from(r));
      for (const d of this.open_) if (!d.closed) d.emit('data', Buffer.from(r));
    }
  }
}

/** Several simulated HID scanners behind one transport, as one USB host sees them. */
export function hidBus(...scanners: SimulatedHidScanner[]): HidTransport {
  return {
    async list() {
      return (await Promise.all(scanners.map((s) => s.list()))).flat();
    },
    async open(path) {
      const s = scanners.find((x) => x.info.path === path);
      if (!s) throw new Error(`cannot open device with path ${path}`);
      return s.open(path);
    },
  };
}
