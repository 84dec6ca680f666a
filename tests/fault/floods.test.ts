import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { advertisementFromAd, parseAdStructures } from '../../drivers/ble-beacons/ad.js';
import { parseBeacon } from '../../drivers/ble-beacons/frames.js';
import { parseReportDescriptor } from '../../drivers/hid-scanner/descriptor.js';
import { LAYOUTS } from '../../drivers/hid-scanner/layouts.js';
import { PosAssembler } from '../../drivers/hid-scanner/pos.js';
import { WedgeDecoder } from '../../drivers/hid-scanner/wedge.js';
import { decodeScan } from '../../drivers/serial-scanner/decode.js';
import { Framer } from '../../drivers/serial-scanner/framer.js';
import { buildSsiFrame, SSI_OPCODE, SSI_SOURCE } from '../../drivers/serial-scanner/ssi.js';
import { SsiSession } from '../../drivers/serial-scanner/ssi-session.js';
import { buildZoneMap, merakiSightings } from '../../drivers/wifi-presence/meraki.js';
import { MerakiPost } from '../../drivers/wifi-presence/meraki-schema.js';
import { seededRandom } from '../../simulators/barcodes.js';
import {
  eddystoneAd,
  eddystoneTlmFrame,
  eddystoneUidFrame,
  eddystoneUrlFrame,
  iBeaconAd,
} from '../../simulators/ble-frames.js';
import {
  encodePosReports,
  encodeWedge,
  HONEYWELL_POS_DESCRIPTOR,
  NEWLAND_POS_DESCRIPTOR,
  posLayoutOf,
} from '../../simulators/hid-scanner.js';
import { merakiBody } from '../../simulators/meraki.js';
import { DEMO_GTIN_PRODUCTS } from '../../simulators/personalization.js';
import { newToken, SimulatedPosLane } from '../../simulators/pos-lane.js';
import { DEMO_STORE_MAP, LOYALTY_UUID, zonesConfig } from '../../simulators/store-map.js';
import { startGateway } from '../../src/cli/run.js';
import { validateConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/logger.js';
import { createAjv } from '../../src/schema/ajv.js';
import { testConfig } from '../helpers/config.js';
import { freePort } from '../helpers/ports.js';
import { tmpDir } from '../helpers/tmp.js';

/*
 * Row 11 of docs/RELIABILITY.md, decoders: 100,000 seeded inputs per decoder (a failure replays
 * exactly), half valid inputs with random damage (flipped, dropped, inserted bytes, truncation,
 * splicing) and half random bytes. No decoder may throw; every failure must be one of its documented
 * error results, and the tallies show that both outcomes were reached. A hang fails by the timeout.
 * The GS1 element string / Digital Link / GTIN / AIM / scan enrichment decoders and the coupon
 * decoders get the same treatment in tests/unit/barcode-fuzz.test.ts and coupon-fuzz.test.ts.
 */

const RUNS = 100_000;
const GS = '\u001d';

type Rng = () => number;
const int = (r: Rng, n: number) => Math.floor(r() * n);
const pick = <T>(r: Rng, xs: readonly T[]): T => xs[int(r, xs.length)] as T;
const randomBytes = (r: Rng, max: number) =>
  Buffer.from(Array.from({ length: int(r, max + 1) }, () => int(r, 256)));

/** A valid input with random damage, or (half the time) random bytes. */
function damaged(r: Rng, valid: Buffer, max = 64): Buffer {
  if (r() < 0.5) return randomBytes(r, max);
  const b = Buffer.from(valid);
  const edits = 1 + int(r, 3);
  let out = b;
  for (let e = 0; e < edits; e++) {
    const k = int(r, 5);
    if (k === 0 && out.length > 0) {
      const at = int(r, out.length);
      out[at] = (out[at] as number) ^ (1 << int(r, 8));
    } else if (k === 1) out = out.subarray(0, int(r, out.length + 1));
    else if (k === 2) {
      const at = int(r, out.length + 1);
      out = Buffer.concat([out.subarray(0, at), randomBytes(r, 8), out.subarray(at)]);
    } else if (k === 3 && out.length > 0) {
      const at = int(r, out.length);
      out = Buffer.concat([out.subarray(0, at), out.subarray(at + 1 + int(r, 4))]);
    } else out = Buffer.concat([out, out.subarray(0, int(r, out.length + 1))]);
  }
  return out;
}

const SAMPLE_TEXTS = [
  '4006381333931',
  '0036000291452',
  '96385074',
  `0109506000134352${GS}3103001250${GS}10L1`,
  'https://id.gs1.org/01/09506000134352/10/ABC',
  'Grüße, ÄÖÜ',
  'M1GATHERGOOD/MICHAEL YABCDEF LHRDURAK 3542 052Y003D23  ABCDE',
];

interface Tally {
  ok: number;
  errors: Record<string, number>;
}
const tally = (): Tally => ({ ok: 0, errors: {} });
function count(t: Tally, r: { ok: true } | { ok: false; error: string }, allowed: ReadonlySet<string>) {
  if (r.ok) {
    t.ok++;
    return;
  }
  if (!allowed.has(r.error)) throw new Error(`undocumented error result ${JSON.stringify(r.error)}`);
  t.errors[r.error] = (t.errors[r.error] ?? 0) + 1;
}
const failures = (t: Tally) => Object.values(t.errors).reduce((a, b) => a + b, 0);

function report(name: string, t: Tally, startedAt: number) {
  const ms = performance.now() - startedAt;
  console.log(
    `fault: row 11 fuzz ${name}: ${RUNS} cases in ${Math.round(ms)} ms (${Math.round(RUNS / (ms / 1000))}/s), ` +
      `${t.ok} decoded, ${failures(t)} typed errors ${JSON.stringify(t.errors)}, 0 thrown`,
  );
  expect(t.ok).toBeGreaterThan(0);
  expect(failures(t)).toBeGreaterThan(0);
}

describe('fault: decoder floods (100,000 seeded cases per decoder)', () => {
  it('serial framer + decodeScan (suffix, STX/ETX, AIM)', { timeout: 240_000 }, () => {
    const t0 = performance.now();
    const r = seededRandom(0x5e71);
    const t = tally();
    const allowed = new Set(['too-long', 'incomplete', 'empty', 'noise', 'missing-aim']);
    const framers = [
      { framer: new Framer({ suffix: '\r\n' }, 256), wrap: (s: string) => `${s}\r\n` },
      { framer: new Framer({ stx: true }, 256), wrap: (s: string) => `\x02${s}\x03` },
    ];
    for (let i = 0; i < RUNS; i++) {
      const { framer, wrap } = pick(r, framers);
      const aim = r() < 0.5;
      const valid = Buffer.from(wrap((aim ? ']E0' : '') + pick(r, SAMPLE_TEXTS)), 'utf8');
      const results = [...framer.push(damaged(r, valid)), ...(r() < 0.2 ? framer.flush() : [])];
      for (const f of results) {
        if (!f.ok) count(t, f, allowed);
        else count(t, decodeScan(f.frame, { aim }), allowed);
      }
    }
    report('serial framer+decodeScan', t, t0);
  });

  it('SSI session (DECODE_DATA frames, ACK/NAK)', { timeout: 240_000 }, () => {
    const t0 = performance.now();
    const r = seededRandom(0x551);
    const t = tally();
    const allowed = new Set([
      'bad-checksum',
      'noise',
      'incomplete',
      'duplicate',
      'unknown-opcode',
      'too-long',
      'empty',
      'missing-aim',
    ]);
    const sessions = [
      new SsiSession({ aim: false, maxBytes: 512 }),
      new SsiSession({ aim: true, maxBytes: 64 }),
    ];
    for (let i = 0; i < RUNS; i++) {
      const session = pick(r, sessions);
      const text = Buffer.from((r() < 0.5 ? ']E0' : '') + pick(r, SAMPLE_TEXTS), 'utf8');
      const valid = buildSsiFrame({
        opcode: r() < 0.9 ? SSI_OPCODE.decodeData : int(r, 256),
        source: SSI_SOURCE.decoder,
        status: r() < 0.2 ? int(r, 16) : 0,
        data: Buffer.concat([Buffer.of(int(r, 0x40)), text]),
      });
      const actions = [...session.push(damaged(r, valid)), ...(r() < 0.2 ? session.flush() : [])];
      for (const a of actions) {
        if (a.type === 'scan') count(t, { ok: true }, allowed);
        else if (a.type === 'error') count(t, { ok: false, error: a.error }, allowed);
      }
    }
    report('SSI session', t, t0);
  });

  it('HID keyboard wedge (US and German layouts)', { timeout: 240_000 }, () => {
    const t0 = performance.now();
    const r = seededRandom(0x3ed6e);
    const t = tally();
    const allowed = new Set([
      'other-report',
      'short-report',
      'rollover',
      'unmapped-key',
      'too-long',
      'empty',
      'missing-aim',
    ]);
    const layouts = ['us', 'de'] as const;
    const decoders = layouts.map(
      (l) => new WedgeDecoder({ layout: LAYOUTS[l], terminators: ['enter'], aim: false, maxBytes: 128 }),
    );
    const samples = layouts.map((l) =>
      ['4006381333931', 'ABC-123/xyz', `01095060001343521${GS}0L1`].map((s) => encodeWedge(s, l)),
    );
    for (let i = 0; i < RUNS; i++) {
      const k = int(r, layouts.length);
      const decoder = decoders[k] as WedgeDecoder;
      const reports = pick(r, samples[k] as Buffer[][]);
      const out = [];
      for (const rep of reports) out.push(...decoder.push(r() < 0.05 ? damaged(r, rep, 10) : rep));
      if (r() < 0.3) out.push(...decoder.flush());
      for (const x of out) count(t, x, allowed);
    }
    report('HID wedge', t, t0);
  });

  it('HID POS scanned-data reports (Honeywell and Newland layouts)', { timeout: 240_000 }, () => {
    const t0 = performance.now();
    const r = seededRandom(0x9057);
    const t = tally();
    const allowed = new Set([
      'other-report',
      'short-report',
      'bad-length',
      'too-long',
      'incomplete',
      'empty',
    ]);
    const descriptors = [HONEYWELL_POS_DESCRIPTOR, NEWLAND_POS_DESCRIPTOR];
    const assemblers = descriptors.map((d) => new PosAssembler(posLayoutOf(d), 256));
    const samples = descriptors.map((d) =>
      SAMPLE_TEXTS.map((s) => encodePosReports(Buffer.from(s, 'utf8'), d, { aim: ']E0', chunks: [20, 20] })),
    );
    for (let i = 0; i < RUNS; i++) {
      const k = int(r, descriptors.length);
      const a = assemblers[k] as PosAssembler;
      const reports = pick(r, samples[k] as Buffer[][]);
      const out = [];
      for (const rep of reports) out.push(...a.push(r() < 0.3 ? damaged(r, rep, 70) : rep));
      if (r() < 0.2) out.push(...a.flush());
      for (const x of out) count(t, x, allowed);
    }
    report('HID POS', t, t0);
  });

  it('HID report descriptors', { timeout: 240_000 }, () => {
    const t0 = performance.now();
    const r = seededRandom(0xde5c);
    const t = tally();
    const allowed = new Set([
      'empty',
      'truncated',
      'unbalanced-collection',
      'bad-pop',
      'bad-report-id',
      'mixed-report-ids',
      'too-large',
    ]);
    const samples = [HONEYWELL_POS_DESCRIPTOR, NEWLAND_POS_DESCRIPTOR];
    for (let i = 0; i < RUNS; i++) {
      count(t, parseReportDescriptor(damaged(r, pick(r, samples), 128)), allowed);
    }
    report('HID report descriptor', t, t0);
  });

  it('BLE advertisements (AD structures, iBeacon, Eddystone UID/URL/TLM)', { timeout: 240_000 }, () => {
    const t0 = performance.now();
    const r = seededRandom(0xb1e);
    const t = tally();
    const allowed = new Set(['no-beacon', 'truncated', 'bad-url', 'tlm-version', 'eddystone-unknown']);
    const samples = [
      iBeaconAd({ uuid: LOYALTY_UUID, major: 7, minor: 42, measuredPower: -59 }),
      eddystoneAd(
        eddystoneUidFrame({ txPower: -20, namespace: '00112233445566778899', instance: 'aabbccddeeff' }),
      ),
      eddystoneAd(eddystoneUrlFrame({ txPower: -20, url: 'https://example.com/store' })),
      eddystoneAd(
        eddystoneTlmFrame({ batteryMv: 3000, temperatureC: 21.5, advCount: 1000, uptimeSec: 3600 }),
      ),
    ];
    for (let i = 0; i < RUNS; i++) {
      const bytes = damaged(r, pick(r, samples), 40);
      const parsed = parseAdStructures(bytes);
      expect(Array.isArray(parsed.structures)).toBe(true);
      count(t, parseBeacon(advertisementFromAd(bytes, r() < 0.2 ? randomBytes(r, 31) : undefined)), allowed);
    }
    report('BLE advertisement', t, t0);
  });

  it('Meraki Scanning API v3 payloads (schema check, then sightings)', { timeout: 240_000 }, () => {
    const t0 = performance.now();
    const r = seededRandom(0x3e4a);
    const t = tally();
    const allowed = new Set(['schema']);
    // The receiver's own check (src/presence/module.ts) before the sightings.
    const validateMeraki = createAjv({ allErrors: true }).compile(MerakiPost);
    const zones = buildZoneMap(zonesConfig(DEMO_STORE_MAP) as unknown as Parameters<typeof buildZoneMap>[0]);
    const aps = DEMO_STORE_MAP.accessPoints.map((a) => a.mac);
    const hex2 = () => int(r, 256).toString(16).padStart(2, '0');
    const mac = () => Array.from({ length: 6 }, hex2).join(':');
    const junk = (): unknown =>
      pick(r, [
        null,
        -1,
        0,
        1e308,
        Number.NaN,
        '',
        'x',
        '12',
        ' -3.5 ',
        [],
        {},
        true,
        mac(),
        '2026-13-45T99:00Z',
      ]);
    for (let i = 0; i < RUNS; i++) {
      const clients = Array.from({ length: 1 + int(r, 3) }, () => ({
        mac: mac(),
        ...(r() < 0.5 ? { position: [r() * 60 - 10, r() * 40 - 10] as [number, number] } : {}),
        rssi: Object.fromEntries(aps.slice(0, 1 + int(r, aps.length)).map((ap) => [ap, int(r, 80) - 10])),
        time: Date.UTC(2026, 10, 24) + int(r, 1e9) * (r() < 0.1 ? 1e6 : 1),
        ...(r() < 0.3
          ? {
              bleRawData: damaged(
                r,
                pick(r, [iBeaconAd({ uuid: LOYALTY_UUID, major: 1, minor: 2, measuredPower: -59 })]),
                31,
              ).toString('hex'),
            }
          : {}),
      }));
      const body = merakiBody(clients, {
        secret: 's',
        type: pick(r, ['WiFi', 'BLE', 'Bluetooth'] as const),
        numbersAsStrings: r() < 0.5,
      }) as { data: { observations: Record<string, unknown>[] } };
      // Random damage to fields the receiver reads.
      for (let e = int(r, 4); e > 0; e--) {
        const obs = pick(r, body.data.observations) as Record<string, unknown>;
        const locs = obs.locations;
        const loc = Array.isArray(locs) ? (locs[0] as unknown) : undefined;
        const rec = obs.latestRecord;
        const isObj = (v: unknown): v is Record<string, unknown> =>
          typeof v === 'object' && v !== null && !Array.isArray(v);
        const target = isObj(loc) && r() < 0.6 ? loc : isObj(rec) ? rec : obs;
        const keys = Object.keys(target);
        target[pick(r, keys)] = junk();
      }
      if (!validateMeraki(body)) {
        count(t, { ok: false, error: 'schema' }, allowed);
        continue;
      }
      const result = merakiSightings(
        body as MerakiPost,
        { zones, zoneBy: 'auto', noiseFloorDbm: -95, nowMs: Date.UTC(2026, 10, 24) },
        (m) => `h-${m}`,
        (m) => (Number.parseInt(m.slice(0, 2), 16) & 2) !== 0,
      );
      expect(Array.isArray(result.clients)).toBe(true);
      count(t, { ok: true }, allowed);
    }
    report('Meraki payload', t, t0);
  });
});

/*
 * Row 11, API: a running gateway (POS ingest and the Meraki receiver on its local API) takes a flood
 * of malformed requests from concurrent clients, with valid requests interleaved. Every malformed
 * request must get a 4xx (never a 5xx, never a dropped connection) and every valid one a 2xx.
 * Rate limiting is off here so that every request reaches the parsers; it has its own tests.
 */
const FLOOD_MS = 30_000;
const CLIENTS = 16;
const VALID_SHARE = 0.2;
const MERAKI_SECRET = 'flood-meraki-secret';

describe('fault: API floods', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await Promise.resolve(fn()).catch(() => {});
  });

  it('malformed bodies at high rate get 4xx, never 5xx; valid requests interleaved keep getting 2xx', {
    timeout: 180_000,
  }, async () => {
    const dir = tmpDir('sg-flood-');
    cleanup.push(() => dir.cleanup());
    const lanes = Array.from({ length: CLIENTS }, (_, i) => ({ token: newToken(), id: `lane-${i + 1}` }));
    const tokensFile = join(dir.path, 'tokens');
    writeFileSync(tokensFile, lanes.map((l) => `${l.token} ${l.id} pos\n`).join(''), { mode: 0o600 });
    writeFileSync(join(dir.path, 'validator'), 'flood-validator\n');
    writeFileSync(join(dir.path, 'secret'), `${MERAKI_SECRET}\n`);
    const checked = validateConfig(
      testConfig({
        dir: dir.path,
        // No broker: POS ingest and presence only need the buffer.
        mqttUrl: `mqtt://127.0.0.1:${await freePort()}`,
        extra: {
          api: { tokensFile, rateLimit: { enabled: false } },
          pos: { enabled: true, maxBodyBytes: '16KiB' },
          zones: zonesConfig(DEMO_STORE_MAP),
          wifi: {
            meraki: {
              enabled: true,
              validatorFile: join(dir.path, 'validator'),
              secretFile: join(dir.path, 'secret'),
            },
          },
        },
      }),
    );
    if (!checked.ok) throw new Error(JSON.stringify(checked.issues));
    const running = await startGateway(checked.config, { log: silentLogger() });
    cleanup.push(() => running.stop());
    const addr = running.api?.addresses()[0] as { address: string; port: number };
    const url = `http://${addr.address}:${addr.port}`;
    const aps = DEMO_STORE_MAP.accessPoints.map((a) => a.mac);

    const counts = {
      valid: { sent: 0, ok: 0, other: {} as Record<string, number> },
      malformed: { sent: 0, c4xx: 0, other: {} as Record<string, number> },
      byKind: {} as Record<string, Record<string, number>>,
    };

    const worker = async (w: number) => {
      const r = seededRandom(0xf100d + w);
      const lane = lanes[w] as { token: string; id: string };
      const sim = new SimulatedPosLane({
        apiUrl: url,
        token: lane.token,
        storeId: '0421',
        workstationId: lane.id,
        startSequence: 1,
      });
      const tx = () =>
        sim.buildTransaction([pick(r, DEMO_GTIN_PRODUCTS), pick(r, DEMO_GTIN_PRODUCTS)], undefined, []);
      const meraki = (secret = MERAKI_SECRET) =>
        merakiBody(
          [
            {
              mac: `3c:22:fb:00:${w.toString(16).padStart(2, '0')}:01`,
              position: [15, 12],
              rssi: { [aps[0] as string]: 40 },
              time: Date.now(),
            },
          ],
          { secret, type: 'WiFi' },
        );
      const pos = '/v1/pos/transactions';
      const mk = '/v1/wifi/meraki';
      const json = { 'content-type': 'application/json' };
      const auth = { ...json, authorization: `Bearer ${lane.token}` };
      const malformed: [
        string,
        () => { path: string; headers: Record<string, string>; body: string | Buffer },
      ][] = [
        ['random-bytes', () => ({ path: pos, headers: auth, body: randomBytes(r, 512) })],
        [
          'truncated-json',
          () => {
            const t = JSON.stringify(tx());
            return { path: pos, headers: auth, body: t.slice(0, int(r, t.length)) };
          },
        ],
        [
          'not-an-object',
          () => ({ path: pos, headers: auth, body: pick(r, ['null', '[]', '42', '"x"', 'true']) }),
        ],
        [
          'wrong-types',
          () => {
            const t = tx() as unknown as Record<string, unknown>;
            const k = pick(r, Object.keys(t));
            t[k] = pick(r, [{}, true]);
            return { path: pos, headers: auth, body: JSON.stringify(t) };
          },
        ],
        [
          'too-large',
          () => ({ path: pos, headers: auth, body: JSON.stringify({ ...tx(), pad: 'x'.repeat(20_000) }) }),
        ],
        [
          'deep-nesting',
          () => ({ path: pos, headers: auth, body: `${'['.repeat(5000)}${']'.repeat(5000)}` }),
        ],
        [
          'proto-pollution',
          () => ({
            path: pos,
            headers: auth,
            body: JSON.stringify(tx()).replace(
              '{',
              '{"__proto__":{"admin":true},"constructor":{"prototype":{"x":1}},',
            ),
          }),
        ],
        [
          'invalid-utf8',
          () => ({
            path: pos,
            headers: auth,
            body: Buffer.concat([
              Buffer.from('{"storeId":"'),
              Buffer.from([0xc3, 0x28, 0xff]),
              Buffer.from('"}'),
            ]),
          }),
        ],
        ['empty-body', () => ({ path: pos, headers: auth, body: '' })],
        [
          'text-plain',
          () => ({
            path: pos,
            headers: { 'content-type': 'text/plain', authorization: auth.authorization },
            body: JSON.stringify(tx()),
          }),
        ],
        ['no-token', () => ({ path: pos, headers: json, body: JSON.stringify(tx()) })],
        [
          'bad-token',
          () => ({
            path: pos,
            headers: { ...json, authorization: `Bearer ${newToken()}` },
            body: JSON.stringify(tx()),
          }),
        ],
        [
          'other-workstation',
          () => ({ path: pos, headers: auth, body: JSON.stringify({ ...tx(), workstationId: 'lane-999' }) }),
        ],
        ['meraki-wrong-secret', () => ({ path: mk, headers: json, body: JSON.stringify(meraki('guess')) })],
        [
          'meraki-invalid',
          () => {
            const b = meraki() as { data: { observations: Record<string, unknown>[] } };
            (b.data.observations[0] as Record<string, unknown>).clientMac = pick(r, [42, 'zz', null, {}]);
            return { path: mk, headers: json, body: JSON.stringify(b) };
          },
        ],
        ['meraki-random-bytes', () => ({ path: mk, headers: json, body: randomBytes(r, 512) })],
      ];

      const deadline = Date.now() + FLOOD_MS;
      while (Date.now() < deadline) {
        const valid = r() < VALID_SHARE;
        let kind: string;
        let req: { path: string; headers: Record<string, string>; body: string | Buffer };
        if (valid) {
          kind = r() < 0.7 ? 'valid-pos' : 'valid-meraki';
          req =
            kind === 'valid-pos'
              ? { path: pos, headers: auth, body: JSON.stringify(tx()) }
              : { path: mk, headers: json, body: JSON.stringify(meraki()) };
        } else {
          const [k, make] = pick(r, malformed);
          kind = k;
          req = make();
        }
        let status = 0;
        let label: string;
        try {
          const res = await fetch(`${url}${req.path}`, {
            method: 'POST',
            headers: req.headers,
            body: req.body,
          });
          await res.arrayBuffer();
          status = res.status;
          label = String(status);
        } catch (err) {
          label = `error: ${(err as Error).message}`;
        }
        counts.byKind[kind] ??= {};
        const byKind = counts.byKind[kind] as Record<string, number>;
        byKind[label] = (byKind[label] ?? 0) + 1;
        if (valid) {
          counts.valid.sent++;
          if (status >= 200 && status < 300) counts.valid.ok++;
          else counts.valid.other[label] = (counts.valid.other[label] ?? 0) + 1;
        } else {
          counts.malformed.sent++;
          if (status >= 400 && status < 500) counts.malformed.c4xx++;
          else counts.malformed.other[label] = (counts.malformed.other[label] ?? 0) + 1;
        }
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: CLIENTS }, (_, w) => worker(w)));
    const seconds = (performance.now() - t0) / 1000;
    const total = counts.valid.sent + counts.malformed.sent;
    const statusesOf = (k: string) =>
      Object.entries(counts.byKind[k] ?? {})
        .map(([s, n]) => `${s}x${n}`)
        .join('/');
    console.log(
      `fault: row 11 API flood: ${total} requests in ${seconds.toFixed(1)} s (${Math.round(total / seconds)} req/s, ` +
        `${CLIENTS} clients); malformed ${counts.malformed.sent}: ${counts.malformed.c4xx} 4xx, ` +
        `others ${JSON.stringify(counts.malformed.other)}; valid ${counts.valid.sent}: ${counts.valid.ok} 2xx, ` +
        `others ${JSON.stringify(counts.valid.other)}; by kind ${Object.keys(counts.byKind)
          .sort()
          .map((k) => `${k} ${statusesOf(k)}`)
          .join(', ')}`,
    );
    expect(counts.malformed.other).toEqual({});
    expect(counts.valid.other).toEqual({});
    expect(counts.malformed.c4xx).toBe(counts.malformed.sent);
    expect(counts.valid.ok).toBe(counts.valid.sent);
    expect(counts.valid.sent).toBeGreaterThan(0);
    expect(counts.malformed.sent).toBeGreaterThan(counts.valid.sent);
    // Every accepted transaction was committed: the gateway still answers its status.
    expect(running.gateway.status().buffer).toBeDefined();
  });
});
