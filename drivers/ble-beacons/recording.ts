import { closeSync, createReadStream, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { err, ok, type Result } from '../../src/result.js';
import { sleep } from '../../src/util/sleep.js';
import { type AdvertisingReport, ReportBindings } from './report-bindings.js';
import type { BleTransport } from './transport.js';

/**
 * BLE recordings: one JSON object a line,
 * `{"t": <ms since start>, "address": "aa:bb:…", "addressType": "public"|"random", "rssi": -63,
 *   "adv": "<hex AD structures>", "scanResponse": "<hex>"}` (scanResponse optional).
 * A recording holds raw device addresses: it is personal data. It is written with mode 0600, never
 * enters the buffer or MQTT, and replaying it pseudonymizes addresses exactly as a live adapter does.
 */
export interface RecordedAdvertisement extends AdvertisingReport {
  t: number;
}

export type RecordingLineError = 'json' | 'field';

const HEX = /^(?:[0-9a-fA-F]{2})*$/;
const ADDRESS = /^[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}$/;

/** Parses one recording line. Pure. */
export function parseRecordingLine(line: string): Result<RecordedAdvertisement, RecordingLineError> {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return err('json');
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return err('json');
  const { t, address, addressType, rssi, adv, scanResponse } = v;
  if (typeof t !== 'number' || !Number.isFinite(t) || t < 0) return err('field', 't');
  if (typeof address !== 'string' || !ADDRESS.test(address)) return err('field', 'address');
  if (addressType !== 'public' && addressType !== 'random') return err('field', 'addressType');
  if (typeof rssi !== 'number' || !Number.isInteger(rssi) || rssi < -127 || rssi > 20)
    return err('field', 'rssi');
  if (typeof adv !== 'string' || !HEX.test(adv) || adv.length > 510) return err('field', 'adv');
  if (scanResponse !== undefined && (typeof scanResponse !== 'string' || !HEX.test(scanResponse)))
    return err('field', 'scanResponse');
  return ok({
    t,
    address,
    addressType,
    rssi,
    adv: Buffer.from(adv, 'hex'),
    ...(typeof scanResponse === 'string' ? { scanResponse: Buffer.from(scanResponse, 'hex') } : {}),
  });
}

export function formatRecordingLine(r: RecordedAdvertisement): string {
  return JSON.stringify({
    t: r.t,
    address: r.address,
    addressType: r.addressType,
    rssi: r.rssi,
    adv: r.adv.toString('hex'),
    ...(r.scanResponse && r.scanResponse.length > 0 ? { scanResponse: r.scanResponse.toString('hex') } : {}),
  });
}

/** Appends advertisements to a recording; the file is created with mode 0600. */
export class RecordingWriter {
  private fd: number | undefined;
  private start: number | undefined;
  lines = 0;

  constructor(readonly file: string) {}

  write(nowMs: number, r: AdvertisingReport): void {
    if (this.fd === undefined) {
      mkdirSync(dirname(this.file), { recursive: true });
      this.fd = openSync(this.file, 'a', 0o600);
    }
    this.start ??= nowMs;
    writeSync(this.fd, `${formatRecordingLine({ ...r, t: nowMs - this.start })}\n`);
    this.lines++;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** Counts of a replay, for /v1/status and tests. */
export interface ReplayProgress {
  lines: number;
  reported: number;
  badLines: number;
  done: boolean;
}

/**
 * A transport that plays a recording into noble: each line becomes an advertising report at
 * `t / speed` ms after scanning starts (`speed` 0: as fast as possible), parsed by noble's own GAP
 * code. After the last line the adapter stays "on" and silent.
 */
export function replayTransport(file: string, speed: number, progress?: ReplayProgress): BleTransport {
  const state = progress ?? { lines: 0, reported: 0, badLines: 0, done: false };
  return {
    async open() {
      const bindings = await ReportBindings.create();
      const abort = new AbortController();
      const play = async () => {
        while (!bindings.scanning && !abort.signal.aborted) await sleep(5, abort.signal);
        const started = Date.now();
        const rl = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
        try {
          for await (const line of rl) {
            if (abort.signal.aborted) break;
            if (!line.trim()) continue;
            state.lines++;
            const parsed = parseRecordingLine(line);
            if (!parsed.ok) {
              state.badLines++;
              continue;
            }
            if (speed > 0) {
              const due = started + parsed.value.t / speed - Date.now();
              if (due > 0) await sleep(due, abort.signal);
            } else if (state.lines % 256 === 0) {
              await new Promise((r) => setImmediate(r));
            }
            if (abort.signal.aborted) break;
            bindings.report(parsed.value);
            state.reported++;
          }
        } finally {
          rl.close();
          state.done = true;
        }
      };
      // A missing file fails the open, so the device reports unavailable with the reason.
      await new Promise<void>((resolve, reject) => {
        const probe = createReadStream(file);
        probe.once('open', () => {
          probe.destroy();
          resolve();
        });
        probe.once('error', reject);
      });
      void play().catch(() => {
        state.done = true;
      });
      return bindings.opened(() => abort.abort());
    },
  };
}
