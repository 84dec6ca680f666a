import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Running, startGateway } from '../../src/cli/run.js';
import { validateConfig } from '../../src/config/load.js';
import { createLogger, silentLogger } from '../../src/logger.js';
import { testConfig } from '../helpers/config.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { Pki, startExampleBroker } from '../helpers/pki.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const POISON_LOSSES = 10;

const log = () => (process.env.SG_DEBUG ? createLogger({ level: 'debug', destination: 2 }) : silentLogger());

function deadLetters(bufferPath: string): { seq: number; cls: string; reason: string; payload: string }[] {
  const db = new Database(bufferPath, { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT seq, cls, reason, payload FROM dead_letter ORDER BY seq').all() as {
      seq: number;
      cls: string;
      reason: string;
      payload: string;
    }[];
  } finally {
    db.close();
  }
}

const scan = (text: string) => ({ deviceId: 'lane-1', text, symbology: 'unknown', scanDataType: 0 });

/*
 * A gateway whose broker ACL does not cover its store: the certificate of store 0421 on a gateway
 * configured as store 0999. The broker refuses its birth message (PUBACK 0x87) and Mosquitto 2.0.11
 * then drops the connection, on every connection, before it reads the events sent after the birth.
 *
 * The uplink used to blame the oldest event for each lost connection: after POISON_LOSSES of them
 * it moved that event to dead_letter and raised a `message-rejected` alarm, which is an event too
 * and went the same way, one after the other, for as long as the gateway ran. A misconfigured
 * store id would so have emptied the buffer. The birth refusal is what explains the lost
 * connection: no event is to blame, and nothing may be dead-lettered for it.
 */
describe('a gateway whose store the broker refuses', () => {
  let pki: Pki;
  let broker: Mosquitto;
  let running: Running | undefined;
  const dir = tmpDir();

  beforeAll(async () => {
    pki = Pki.create();
    broker = await startExampleBroker(pki);
  });

  afterAll(async () => {
    await running?.stop();
    await broker?.dispose();
    pki?.cleanup();
    dir.cleanup();
  });

  it('keeps its events and dead-letters nothing, neither events nor its own alarms', async () => {
    const cert = pki.issue('gw-0421', '0421');
    const checked = validateConfig(
      testConfig({
        dir: dir.path,
        mqttUrl: broker.tlsUrl,
        store: '0999',
        gateway: 'gw-1',
        extra: {
          api: { enabled: false },
          mqtt: { tls: { caFile: pki.ca.cert, certFile: cert.cert, keyFile: cert.key } },
        },
      }),
    );
    if (!checked.ok) throw new Error(JSON.stringify(checked.issues));
    running = await startGateway(checked.config, { log: log() });
    const gateway = running.gateway;
    gateway.emitFor('lane-1')('retail.scan.v1', scan('CROSS-STORE'));
    await waitFor(() => gateway.status().buffer?.lastSeq === 1, 'the scan committed');
    // More lost connections than it took before to dead-letter the scan and the alarm after it.
    await waitFor(
      () => gateway.uplink.status().reconnects >= 2 * POISON_LOSSES + 2,
      `${2 * POISON_LOSSES + 2} lost connections`,
      90_000,
    );
    const status = gateway.status();
    if (process.env.SG_DEBUG) process.stderr.write(broker.log);
    expect(deadLetters(checked.config.buffer.path)).toEqual([]);
    expect(status.buffer).toMatchObject({ rows: 1, deadLetters: 0 });
    expect(status.uplink?.lastError).toMatch(/^birth message refused: .*0x87/);
  }, 120_000);
});

/*
 * A broker that accepts the gateway's birth but refuses every event for good (MQTT 5 PUBACK 0x87;
 * Mosquitto 2.0.11 then drops the connection, so each refusal costs a reconnect).
 * Each refused event goes to dead_letter with a `message-rejected` alarm; the alarm is refused
 * too and dead-lettered, and no alarm is raised about it, or the gateway would feed its own alarms
 * into dead_letter for as long as it runs.
 */
describe('a broker that refuses every event', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const undo of cleanups.splice(0).reverse()) await undo();
  });

  it('dead-letters each refused event and its alarm once, then stops', async () => {
    const dir = tmpDir();
    cleanups.push(() => dir.cleanup());
    const acl = join(dir.path, 'acl');
    writeFileSync(acl, ['topic readwrite #', 'topic deny stores/+/gateways/+/events/#', ''].join('\n'));
    const broker = await Mosquitto.start({
      extraConfig: [`acl_file ${acl}`, 'allow_anonymous true'].join('\n'),
    });
    cleanups.push(() => broker.dispose());
    const checked = validateConfig(testConfig({ dir: dir.path, mqttUrl: broker.url, protocolVersion: 5 }));
    if (!checked.ok) throw new Error(JSON.stringify(checked.issues));
    const running = await startGateway(checked.config, { log: log() });
    cleanups.push(() => running.stop());
    const gateway = running.gateway;
    await waitFor(() => gateway.uplink.isConnected, 'connected');
    const emit = gateway.emitFor('lane-1');
    for (const text of ['A-1', 'A-2', 'A-3']) emit('retail.scan.v1', scan(text));
    // Three scans and the three alarms about them.
    await waitFor(() => (gateway.status().buffer?.deadLetters ?? 0) >= 6, 'six dead letters', 30_000);
    await waitFor(() => gateway.status().buffer?.rows === 0, 'buffer empty', 30_000);
    // A fourth scan, then its alarm, pass through the same way after the first six: had an alarm
    // been raised about a refused alarm, it would be dead-lettered before them.
    emit('retail.scan.v1', scan('A-4'));
    await waitFor(() => (gateway.status().buffer?.deadLetters ?? 0) >= 8, 'eight dead letters', 30_000);
    await waitFor(() => gateway.status().buffer?.rows === 0, 'buffer empty again', 30_000);
    const dead = deadLetters(checked.config.buffer.path);
    expect(dead.map((d) => d.cls)).toEqual([
      'scan',
      'scan',
      'scan',
      'device',
      'device',
      'device',
      'scan',
      'device',
    ]);
    expect(dead.every((d) => d.reason === 'not-authorized')).toBe(true);
    for (const d of dead.filter((x) => x.cls === 'device'))
      expect(JSON.parse(d.payload).data).toMatchObject({
        alarm: 'message-rejected',
        details: { reasonCode: 0x87 },
      });
    // Each alarm names a scan, never another alarm.
    const named = dead.filter((d) => d.cls === 'device').map((d) => JSON.parse(d.payload).data.details.seq);
    const scans = dead.filter((d) => d.cls === 'scan').map((d) => d.seq);
    expect(named).toEqual(scans);
  }, 90_000);
});
