import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appToken, appTokenRule, emvPaymentQr } from '../../simulators/app-shopper.js';
import { CaptivePortal } from '../../simulators/captive-portal.js';
import { merakiBody } from '../../simulators/meraki.js';
import { newToken } from '../../simulators/pos-lane.js';
import { SimulatedSerialScanner } from '../../simulators/serial-scanner.js';
import { DEMO_STORE_MAP, registryConfig, zonesConfig } from '../../simulators/store-map.js';
import { configPath, testConfig, writeConfig } from '../helpers/config.js';
import { GatewayProcess } from '../helpers/gateway-process.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The identity canary: known payment tokens, a loyalty id (with loyaltyIds: hashed) and a signed-in
 * MAC go through the real daemon — scanner on a PTY, the Wi-Fi sign-in, Meraki — with logs at
 * trace; then logs, every byte of the buffer files and everything seen on `#` at Mosquitto are
 * searched for them. Each must be found 0 times (and is found in what the test itself sent, as a
 * control).
 */
const PAN = '4761739001010119';
const EMV = emvPaymentQr(PAN);
const CARD = '5555555555554444';
const LOYALTY = 'LOY-0421-777001';
const MAC = 'a4:83:e7:5c:0f:2e';

const needles = (): Buffer[] => {
  const text = [
    PAN,
    `${PAN.slice(0, 4)} ${PAN.slice(4, 8)} ${PAN.slice(8, 12)} ${PAN.slice(12)}`,
    EMV,
    EMV.slice(8, 40), // any long stretch of the QR payload
    CARD,
    LOYALTY,
    MAC,
    MAC.toUpperCase(),
    MAC.replace(/:/g, '-'),
    MAC.replace(/:/g, ''),
  ];
  return [
    ...text.map((t) => Buffer.from(t, 'latin1')),
    ...text.map((t) => Buffer.from(t, 'utf16le')),
    Buffer.from(PAN, 'hex'), // the BCD card number inside the QR's bytes
    Buffer.from(MAC.replace(/:/g, ''), 'hex'),
  ];
};

function occurrences(bytes: Buffer): number {
  let n = 0;
  for (const needle of needles()) {
    for (let i = bytes.indexOf(needle); i >= 0; i = bytes.indexOf(needle, i + 1)) n++;
  }
  return n;
}

describe('identity canary: payment tokens, a hashed loyalty id and a signed-in MAC are found 0 times', () => {
  const dir = tmpDir('sg-identity-canary-');
  const KEY = randomBytes(32);
  const portalToken = newToken();
  let broker: Mosquitto;
  let gw: GatewayProcess;
  let sniffer: mqtt.MqttClient;
  let scanner: SimulatedSerialScanner;
  const traffic: Buffer[] = [];
  const events: { type: string; data: Record<string, unknown> }[] = [];
  const sent: string[] = [];

  beforeAll(async () => {
    broker = await Mosquitto.start();
    sniffer = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: 'identity-canary' });
    sniffer.on('message', (topic, payload) => {
      traffic.push(Buffer.from(topic), Buffer.from(payload));
      try {
        const ev = JSON.parse(payload.toString()) as { type?: string; data?: Record<string, unknown> };
        if (ev.type && ev.data) events.push({ type: ev.type, data: ev.data });
      } catch {
        // the state topic: kept as bytes above
      }
    });
    await sniffer.subscribeAsync('#', { qos: 1 });
    const keyFile = join(dir.path, 'app.key');
    writeFileSync(keyFile, KEY, { mode: 0o600 });
    writeFileSync(join(dir.path, 'loyalty.key'), randomBytes(32), { mode: 0o600 });
    writeFileSync(join(dir.path, 'tokens'), `${portalToken} captive-portal identity\n`, { mode: 0o600 });
    writeFileSync(join(dir.path, 'validator'), 'v');
    writeFileSync(join(dir.path, 'secret'), 'canary-secret');
    scanner = new SimulatedSerialScanner({
      linkPath: join(dir.path, 'lane-1'),
      framing: { suffix: '\r\n' },
      aim: true,
    });
    await scanner.plug();
    const config = testConfig({
      dir: dir.path,
      mqttUrl: broker.url,
      devices: [{ id: 'lane-1-scanner', kind: 'serial-scanner', path: scanner.options.linkPath, aim: true }],
      extra: {
        log: { level: 'trace' },
        api: { tokensFile: join(dir.path, 'tokens') },
        zones: zonesConfig(DEMO_STORE_MAP),
        registry: registryConfig(DEMO_STORE_MAP),
        wifi: {
          meraki: {
            enabled: true,
            validatorFile: join(dir.path, 'validator'),
            secretFile: join(dir.path, 'secret'),
          },
        },
        identity: {
          enabled: true,
          loyaltyIds: 'hashed',
          loyaltyKeyFile: join(dir.path, 'loyalty.key'),
          loyalty: [appTokenRule(keyFile)],
          wifi: { enabled: true },
        },
      },
    });
    gw = GatewayProcess.run(writeConfig(configPath(dir.path), config));
    await gw.ready(60_000);
    const scan = async (text: string, aim: string) => {
      sent.push(text);
      await scanner.scan({ text, aim });
    };
    await scan(EMV, ']Q1');
    await scan(PAN, ']Q1');
    await scan(CARD, ']C0');
    await scan(appToken(KEY, LOYALTY, Date.now()), ']Q1');
    const portal = new CaptivePortal({ apiUrl: gw.apiUrl as string, token: portalToken });
    expect((await portal.signIn({ accountId: LOYALTY, mac: MAC, consent: false })).status).toBe(200);
    expect((await portal.signIn({ accountId: LOYALTY, mac: `${MAC}:ff`, consent: true })).status).toBe(400);
    expect(
      (await portal.signIn({ accountId: LOYALTY, mac: MAC, consent: true, consentScopes: ['presence'] }))
        .status,
    ).toBe(202);
    const ap = DEMO_STORE_MAP.accessPoints[3]?.mac as string;
    const meraki = merakiBody([{ mac: MAC, position: [15, 12], rssi: { [ap]: 45 }, time: Date.now() }], {
      secret: 'canary-secret',
      type: 'WiFi',
    });
    const post = () =>
      fetch(`${gw.apiUrl}/v1/wifi/meraki`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(meraki),
      });
    expect((await post()).status).toBe(200);
    await waitFor(
      () =>
        events.filter((e) => e.type === 'retail.scan.v1').length >= 4 &&
        events.some((e) => e.type === 'retail.loyalty.identified.v1') &&
        events.some((e) => e.type === 'retail.presence.identified.v1') &&
        events.some((e) => e.type === 'retail.presence.enter.v1' && e.data.loyaltyHash),
      'scan, identification and presence events at the broker',
      30_000,
    );
    // The broker goes away: what comes now stays in the buffer file, which the test then reads.
    await broker.stop();
    await scan(EMV, ']Q1');
    await scan(PAN, ']Q1');
    await scan(appToken(KEY, LOYALTY, Date.now()), ']Q1');
    expect((await post()).status).toBe(200);
    // Three scans and the loyalty event wait in the buffer.
    await waitFor(
      async () => (((await gw.status()).buffer as { rows?: number } | null)?.rows ?? 0) >= 4,
      'the last scans in the buffer',
      20_000,
    );
    await gw.kill('SIGTERM');
  }, 180_000);

  afterAll(async () => {
    if (gw?.alive) await gw.kill();
    await sniffer?.endAsync();
    await scanner?.unplug();
    await broker?.dispose();
    dir.cleanup();
  });

  it('finds the canaries where they are expected: what the test sent (positive control)', () => {
    expect(occurrences(Buffer.from(sent.join('\n')))).toBeGreaterThanOrEqual(8);
    expect(occurrences(Buffer.from(`x${MAC.toUpperCase()}y`))).toBe(1);
  });

  it('MQTT: 0 occurrences in every topic and payload; the events carry references and hashes instead', () => {
    const scans = events.filter((e) => e.type === 'retail.scan.v1');
    const payments = scans.filter((e) => e.data.category === 'payment-token');
    expect(payments.map((e) => [e.data.scheme, e.data.text, e.data.sensitive])).toEqual([
      ['emv-cpm', '[payment-token]', 'payment-token'],
      ['pan', '[payment-token]', 'payment-token'],
      ['pan', '[payment-token]', 'payment-token'],
    ]);
    expect(payments.every((e) => /^pt_[0-9a-f]{16}$/.test(String(e.data.tokenRef)))).toBe(true);
    expect(new Set(payments.map((e) => e.data.tokenRef)).size).toBe(3);
    const identified = events.find((e) => e.type === 'retail.loyalty.identified.v1');
    expect(identified?.data.loyaltyHash).toMatch(/^[0-9a-f]{32}$/);
    expect(events.find((e) => e.type === 'retail.presence.identified.v1')?.data.loyaltyHash).toBe(
      identified?.data.loyaltyHash,
    );
    expect(occurrences(Buffer.concat(traffic))).toBe(0);
  });

  it('buffer: 0 occurrences in the SQLite file bytes (with -wal, -shm and .seq)', () => {
    const files = ['buffer.db', 'buffer.db-wal', 'buffer.db-shm', 'buffer.db.seq'].map((f) =>
      join(dir.path, f),
    );
    const present = files.filter((f) => existsSync(f));
    expect(present).toContain(join(dir.path, 'buffer.db'));
    const all = Buffer.concat(present.map((f) => readFileSync(f)));
    // The scans after the broker went away are in the buffer: the test looks at real rows.
    expect(all.includes(Buffer.from('[payment-token]'))).toBe(true);
    for (const f of present) expect(occurrences(readFileSync(f)), f).toBe(0);
  });

  it('logs: 0 occurrences (stdout JSON at trace level, stderr)', () => {
    expect(gw.lines.length).toBeGreaterThan(10);
    expect(gw.lines.some((l) => l.msg === 'identity started')).toBe(true);
    expect(occurrences(Buffer.from(gw.lines.map((l) => JSON.stringify(l)).join('\n')))).toBe(0);
    expect(occurrences(Buffer.from(gw.stderr))).toBe(0);
  });
});
