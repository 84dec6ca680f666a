import { splitAim } from '../../src/barcode/aim.js';
import { err, ok, type Result } from '../../src/result.js';
import type { ScanReading } from '../serial-scanner/decode.js';
import { CONTROL_BY_POSITION, KEY, type KeyboardLayout, type KeyOutput, MOD } from './layouts.js';

export type WedgeTerminator = 'enter' | 'tab';

export interface WedgeOptions {
  layout: KeyboardLayout;
  /** Keys that end a scan; Enter includes keypad Enter. Others are typed as CR or TAB. */
  terminators: readonly WedgeTerminator[];
  /** Set when the device numbers its reports: the keyboard report's id (first byte). */
  reportId?: number;
  /** Scans start with an AIM identifier (]Cm). */
  aim: boolean;
  maxBytes: number;
}

export type WedgeError =
  | 'other-report'
  | 'short-report'
  | 'rollover'
  | 'unmapped-key'
  | 'too-long'
  | 'empty'
  | 'missing-aim';
export type WedgeResult = Result<ScanReading, WedgeError>;

const CTRL = MOD.lctrl | MOD.rctrl;
const SHIFT = MOD.lshift | MOD.rshift;

type Key = { char: string } | { dead: string } | { end: true } | { error: WedgeError; detail: string };

/**
 * Decodes boot-keyboard reports (`[modifiers, 0, k1..k6]`) from a keyboard-wedge scanner into
 * barcodes. A key counts when it appears in a report (key-down); the all-up report between
 * characters only clears the state. A scan ends at a terminator key or, when the driver calls
 * `flush()` after an idle gap, at the gap. Pure.
 *
 * A scan containing a key the layout cannot type is dropped whole (`unmapped-key`), never passed
 * on with a character missing.
 */
export class WedgeDecoder {
  private text = '';
  private down = new Set<number>();
  private pendingDead: string | undefined;
  private bad: { error: WedgeError; detail: string } | undefined;
  private keysInScan = 0;

  constructor(private readonly opts: WedgeOptions) {}

  get hasPartial(): boolean {
    return this.keysInScan > 0;
  }

  push(report: Uint8Array): WedgeResult[] {
    let body = report;
    if (this.opts.reportId !== undefined) {
      if (report[0] !== this.opts.reportId) return [err('other-report', `report id ${report[0] ?? 'none'}`)];
      body = report.subarray(1);
    }
    if (body.length < 3) return [err('short-report', `${report.length} bytes`)];
    const mods = body[0] as number;
    const pressed = [...body.subarray(2, 8)].filter((k) => k !== 0);
    if (pressed.includes(KEY.errorRollOver)) {
      this.mark('rollover', 'too many keys down');
      return [];
    }
    const out: WedgeResult[] = [];
    for (const usage of pressed) {
      if (this.down.has(usage)) continue;
      const key = this.resolve(usage, mods);
      if ('end' in key) out.push(this.finish());
      else this.type(key);
    }
    this.down = new Set(pressed);
    return out;
  }

  /** The line went idle: whatever was typed is one scan. */
  flush(): WedgeResult[] {
    this.down.clear();
    return this.hasPartial ? [this.finish()] : [];
  }

  reset(): void {
    this.text = '';
    this.down.clear();
    this.pendingDead = undefined;
    this.bad = undefined;
    this.keysInScan = 0;
  }

  private resolve(usage: number, mods: number): Key {
    const { terminators } = this.opts;
    const ctrl = (mods & CTRL) !== 0;
    const shift = (mods & SHIFT) !== 0;
    const altGr = (mods & MOD.ralt) !== 0;
    if (usage === KEY.enter || usage === KEY.keypadEnter) {
      return terminators.includes('enter') ? { end: true } : { char: '\r' };
    }
    if (usage === KEY.tab) return terminators.includes('tab') ? { end: true } : { char: '\t' };
    if ((mods & (MOD.lalt | MOD.lgui | MOD.rgui)) !== 0)
      return { error: 'unmapped-key', detail: `modifiers 0x${mods.toString(16)}` };
    if (ctrl && !altGr) return this.control(usage, shift);
    const def = this.opts.layout.keys.get(usage);
    const out: KeyOutput = def?.[(altGr ? 2 : 0) + (shift ? 1 : 0)];
    if (out === undefined) return { error: 'unmapped-key', detail: `usage 0x${usage.toString(16)}` };
    return typeof out === 'string' ? { char: out } : out;
  }

  private control(usage: number, shift: boolean): Key {
    const byPosition = CONTROL_BY_POSITION[`${shift ? 1 : 0}:${usage}`];
    if (byPosition !== undefined) return { char: String.fromCharCode(byPosition) };
    const plain = this.opts.layout.keys.get(usage)?.[0];
    if (typeof plain === 'string' && /^[a-z]$/.test(plain)) {
      return { char: String.fromCharCode(plain.charCodeAt(0) & 0x1f) };
    }
    return { error: 'unmapped-key', detail: `ctrl usage 0x${usage.toString(16)}` };
  }

  private type(key: Exclude<Key, { end: true }>): void {
    this.keysInScan++;
    if ('error' in key) {
      this.mark(key.error, key.detail);
      return;
    }
    if ('dead' in key) {
      // Two dead keys in a row: the first stands for itself.
      if (this.pendingDead !== undefined) this.add(this.pendingDead);
      this.pendingDead = key.dead;
      return;
    }
    if (this.pendingDead !== undefined) {
      const accent = this.pendingDead;
      this.pendingDead = undefined;
      // Dead key + Space gives the accent; anything else is not composed (barcode data is ASCII).
      this.add(key.char === ' ' ? accent : accent + key.char);
      return;
    }
    this.add(key.char);
  }

  private add(s: string): void {
    if (this.bad) return;
    if (this.text.length + s.length > this.opts.maxBytes) {
      this.mark('too-long', `over ${this.opts.maxBytes} characters`);
      return;
    }
    this.text += s;
  }

  private mark(error: WedgeError, detail: string): void {
    this.keysInScan++;
    this.bad ??= { error, detail };
  }

  private finish(): WedgeResult {
    if (this.pendingDead !== undefined) this.add(this.pendingDead);
    const { text, bad } = this;
    this.text = '';
    this.pendingDead = undefined;
    this.bad = undefined;
    this.keysInScan = 0;
    if (bad) return err(bad.error, bad.detail);
    if (text.length === 0) return err('empty');
    if (!this.opts.aim) return ok({ text, symbology: 'unknown' });
    const split = splitAim(text);
    if (!split) return err('missing-aim', `${text.length} characters`);
    if (split.rest.length === 0) return err('empty');
    return ok({ text: split.rest, aim: split.info.aim, symbology: split.info.symbology });
  }
}
