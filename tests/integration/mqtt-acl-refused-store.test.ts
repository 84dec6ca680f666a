import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Running, startGateway } from '../../src/cli/run.js';
import { validateConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/logger.js';
import { testConfig } from '../helpers/config.js';
import type { Mosquitto } from '../helpers/mosquitto.js';
import { Pki, startExampleBroker } from '../helpers/pki.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

/*
 * A gateway whose broker ACL does not cover its store: the certificate of store 0421 on a gateway
 * configured as store 0999. The broker refuses its birth message (0x87) and Mosquitto 2.0.11 then
 * closes the connection, on every connection. The uplink resets its backoff on each CONNACK and
 * moves the oldest event to dead_letter after 10 lost connections; each dead letter raises a
 * `message-rejected` alarm, which is an event too and goes the same way. The gateway should not
 * feed its own alarms into dead_letter, one after the other, for as long as it runs.
 */

const POISON_LOSSES = 10;

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

  it('does not dead-letter its own message-rejected alarms in a loop', async () => {
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
    running = await startGateway(checked.config, { log: silentLogger() });
    const gateway = running.gateway;
    gateway.emitFor('lane-1')('retail.scan.v1', {
      deviceId: 'lane-1',
      text: 'CROSS-STORE',
      symbology: 'unknown',
      scanDataType: 0,
    });
    // Enough lost connections for the scan and three alarms after it to go to dead_letter.
    await waitFor(
      () => gateway.uplink.status().reconnects >= 4 * POISON_LOSSES + 2,
      `${4 * POISON_LOSSES + 2} lost connections`,
      60_000,
    );
    const db = new Database(checked.config.buffer.path, { readonly: true, fileMustExist: true });
    const dead = db.prepare('SELECT cls FROM dead_letter ORDER BY seq').all() as { cls: string }[];
    db.close();
    expect(dead[0]?.cls).toBe('scan');
    // Today: one alarm per POISON_LOSSES connections, without end.
    expect(dead.filter((d) => d.cls === 'device').length).toBeLessThanOrEqual(1);
  });
});
