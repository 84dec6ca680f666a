import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Running, startGateway } from '../../src/cli/run.js';
import { validateConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { checkEvent } from '../../src/consumer/consumer.js';
import { type GatewayError, isGatewayError } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import { publicKeyPin } from '../../src/uplink/tls.js';
import { configPath, testConfig, writeConfig } from '../helpers/config.js';
import { GatewayProcess } from '../helpers/gateway-process.js';
import type { Mosquitto } from '../helpers/mosquitto.js';
import { type CertFiles, Pki, startExampleBroker } from '../helpers/pki.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

/*
 * A real Mosquitto 2.0 whose TLS listener is config/mosquitto/mosquitto.conf as shipped (only its
 * file directory and port rewritten) with config/mosquitto/store-gateway.acl, and a PKI made with
 * the openssl CLI as config/mosquitto/README.md describes.
 */

const PASSPHRASE = 'correct horse battery staple';

let pki: Pki;
let broker: Mosquitto;
let gw0421: CertFiles;
let gw0421Encrypted: CertFiles;
let gw0999: CertFiles;
let events: CertFiles;
let personalization: CertFiles;
let foreign0421: CertFiles;

beforeAll(async () => {
  pki = Pki.create();
  gw0421 = pki.issue('gw-0421', '0421');
  gw0421Encrypted = pki.issue('gw-0421-enc', '0421', { passphrase: PASSPHRASE });
  gw0999 = pki.issue('gw-0999', '0999');
  events = pki.issue('central-events', 'central:events');
  personalization = pki.issue('central-personalization', 'central:personalization');
  foreign0421 = pki.issue('foreign-0421', '0421', { by: 'foreign' });
  broker = await startExampleBroker(pki);
});

afterAll(async () => {
  await broker?.dispose();
  pki?.cleanup();
});

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A raw MQTT 5 client on the TLS listener, trusting the store CA. */
async function connectClient(cert: CertFiles | null, extra: IClientOptions = {}): Promise<MqttClient> {
  const client = await connectAsync(broker.tlsUrl, {
    protocolVersion: 5,
    clientId: `t-${Math.random().toString(16).slice(2, 10)}`,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
    ca: readFileSync(pki.ca.cert),
    ...(cert ? { cert: readFileSync(cert.cert), key: readFileSync(cert.key) } : {}),
    log: () => {},
    ...extra,
  });
  cleanups.push(() => client.endAsync(true));
  return client;
}

/** A central service (its own certificate) that keeps every message it gets. */
async function subscriber(cert: CertFiles, filters: string[]) {
  const client = await connectClient(cert);
  const messages: { topic: string; payload: Buffer }[] = [];
  client.on('message', (topic, payload) => messages.push({ topic, payload }));
  await client.subscribeAsync(filters, { qos: 1 });
  return { client, messages };
}

async function connectError(cert: CertFiles | null): Promise<NodeJS.ErrnoException> {
  try {
    await connectClient(cert);
  } catch (err) {
    return err as NodeJS.ErrnoException;
  }
  throw new Error('the broker accepted the connection');
}

function gatewayConfig(over: { store?: string; tls: Record<string, unknown>; url?: string }): Config {
  const dir = tmpDir();
  cleanups.push(() => dir.cleanup());
  const checked = validateConfig(
    testConfig({
      dir: dir.path,
      mqttUrl: over.url ?? broker.tlsUrl,
      store: over.store ?? '0421',
      gateway: 'gw-1',
      extra: { api: { enabled: false }, mqtt: { tls: over.tls } },
    }),
  );
  if (!checked.ok) throw new Error(JSON.stringify(checked.issues));
  return checked.config;
}

async function runGateway(config: Config): Promise<Running> {
  const running = await startGateway(config, { log: silentLogger() });
  cleanups.push(() => running.stop());
  return running;
}

const clientTls = (cert: CertFiles) => ({ caFile: pki.ca.cert, certFile: cert.cert, keyFile: cert.key });

function scan(running: Running, text: string): void {
  running.gateway.emitFor('lane-1')('retail.scan.v1', {
    deviceId: 'lane-1',
    text,
    symbology: 'unknown',
    scanDataType: 0,
  });
}

describe('MQTT over TLS with client certificates: the example Mosquitto config and per-store ACL', () => {
  it('a gateway with its store certificate connects; its events and state reach central over TLS', async () => {
    const central = await subscriber(events, [
      'stores/0421/gateways/+/events/#',
      'stores/0421/gateways/+/state',
    ]);
    const running = await runGateway(
      gatewayConfig({
        tls: {
          ...clientTls(gw0421),
          // Both pins as docs/SECURITY.md computes them with openssl.
          pinnedCaFingerprints: [pki.fingerprint(pki.ca.cert)],
          pinnedPublicKeys: [`sha256//${pki.publicKeyPin(pki.file('server.crt'))}`],
        },
      }),
    );
    for (let i = 0; i < 5; i++) scan(running, `TLS-${i}`);
    await waitFor(
      () => central.messages.filter((m) => m.topic.includes('/events/scan/')).length >= 5,
      '5 scans at the central subscriber',
      20_000,
    );
    const scans = central.messages.filter((m) => m.topic.includes('/events/scan/'));
    expect(scans.map((m) => m.topic)).toEqual(Array(5).fill('stores/0421/gateways/gw-1/events/scan/lane-1'));
    const checked = scans.map((m) => checkEvent(m.payload));
    expect(checked.flatMap((c) => c.issues)).toEqual([]);
    expect(checked.map((c) => c.event?.data.text)).toEqual(['TLS-0', 'TLS-1', 'TLS-2', 'TLS-3', 'TLS-4']);
    const state = central.messages.find((m) => m.topic === 'stores/0421/gateways/gw-1/state');
    expect(JSON.parse(state?.payload.toString() ?? '{}')).toMatchObject({ state: 'online', storeid: '0421' });
    expect(running.gateway.uplink.status()).toMatchObject({ connected: true, broker: broker.tlsUrl });
    // The pin the gateway computes is the one openssl prints.
    expect(publicKeyPin(readFileSync(pki.file('server.crt')))).toBe(pki.publicKeyPin(pki.file('server.crt')));
  });

  it('opens an encrypted client key with keyPassphraseFile', async () => {
    expect(readFileSync(gw0421Encrypted.key, 'utf8')).toContain('BEGIN ENCRYPTED PRIVATE KEY');
    const running = await runGateway(
      gatewayConfig({
        tls: { ...clientTls(gw0421Encrypted), keyPassphraseFile: pki.file('gw-0421-enc.pass') },
      }),
    );
    await waitFor(() => running.gateway.uplink.isConnected, 'connected with the encrypted key', 20_000);
    expect(running.gateway.uplink.status().lastError).toBeNull();
  });

  it('refuses a client without a certificate during the TLS handshake', async () => {
    const err = await connectError(null);
    // TLS 1.3 says "certificate required"; TLS 1.2 a handshake failure.
    expect(err.code).toMatch(
      /^ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED$|^ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE$/,
    );
    // The broker's log line reaches us through a pipe, maybe after the client saw the alert.
    await waitFor(() => broker.log.includes('peer did not return a certificate'), 'the broker log line');
  });

  it('refuses a client whose certificate comes from a foreign CA, even with a store CN', async () => {
    const err = await connectError(foreign0421);
    expect(err.code).toBe('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA');
    await waitFor(() => broker.log.includes('certificate verify failed'), 'the broker log line');
  });

  it("refuses the certificate of store 0421 on store 0999's topics", async () => {
    const central = await subscriber(events, ['stores/0999/#']);
    // A raw client with 0421's certificate: MQTT 5 PUBACK 0x87 (not authorized).
    const raw = await connectClient(gw0421);
    await expect(
      raw.publishAsync('stores/0999/gateways/gw-1/events/scan/lane-1', 'forged', { qos: 1 }),
    ).rejects.toMatchObject({ code: 0x87 });
    // The gateway software with 0421's certificate but configured as store 0999.
    const config = gatewayConfig({ store: '0999', tls: clientTls(gw0421) });
    const running = await runGateway(config);
    scan(running, 'CROSS-STORE');
    // Its birth message is refused with 0x87 and Mosquitto 2.0.11 then closes the connection.
    const denied =
      /Denied PUBLISH from sg-0999-gw-1 \(d\d, q1, r1, m\d+, 'stores\/0999\/gateways\/gw-1\/state'/;
    await waitFor(() => denied.test(broker.log), 'the broker denying the birth message', 30_000);
    await waitFor(() => running.gateway.uplink.status().reconnects >= 2, 'two refused connections', 30_000);
    // The scan is not lost: it waits in the buffer (or, if the broker refused it by itself, sits
    // in dead_letter for store IT). How the uplink treats a refused store: mqtt-acl-refused-store.
    const db = new Database(config.buffer.path, { readonly: true, fileMustExist: true });
    const kept = db
      .prepare(
        "SELECT (SELECT count(*) FROM outbox WHERE cls = 'scan') + (SELECT count(*) FROM dead_letter WHERE cls = 'scan') AS n",
      )
      .get() as { n: number };
    db.close();
    expect(kept.n).toBe(1);
    // Barrier: a legitimate 0999 message published now reaches central after anything published before.
    const store0999 = await connectClient(gw0999);
    await store0999.publishAsync('stores/0999/gateways/gw-9/events/scan/marker', 'marker', { qos: 1 });
    await waitFor(
      () => central.messages.some((m) => m.payload.toString() === 'marker'),
      'the marker',
      20_000,
    );
    expect(central.messages.map((m) => m.topic)).toEqual(['stores/0999/gateways/gw-9/events/scan/marker']);
  }, 90_000);

  it("does not deliver store 0999's offers to the certificate of store 0421", async () => {
    const raw = await connectClient(gw0421);
    const got: string[] = [];
    raw.on('message', (topic) => got.push(topic));
    // Mosquitto 2.0 grants the subscription and filters on delivery.
    await raw.subscribeAsync(['stores/0999/offers/#', 'stores/0421/offers/#'], { qos: 1 });
    const pz = await connectClient(personalization);
    await pz.publishAsync('stores/0999/offers/o-0999', '{}', { qos: 1 });
    await pz.publishAsync('stores/0421/offers/o-0421', '{}', { qos: 1 });
    await waitFor(() => got.includes('stores/0421/offers/o-0421'), "store 0421's offer", 20_000);
    expect(got).toEqual(['stores/0421/offers/o-0421']);
  });

  const refusals: [string, () => Record<string, unknown>, RegExp][] = [
    [
      'a caFile of another CA',
      () => ({ ...clientTls(gw0421), caFile: pki.foreignCa.cert }),
      /self-signed certificate in certificate chain|unable to verify the first certificate|unable to get local issuer certificate/,
    ],
    [
      'a pinned CA fingerprint the broker chain does not pass through',
      () => {
        const bundle = pki.file('bundle.crt');
        writeFileSync(bundle, readFileSync(pki.ca.cert, 'utf8') + readFileSync(pki.foreignCa.cert, 'utf8'));
        return {
          ...clientTls(gw0421),
          caFile: bundle,
          pinnedCaFingerprints: [pki.fingerprint(pki.foreignCa.cert)],
        };
      },
      /does not include a pinned CA/,
    ],
    [
      'a pinned public key that is not the broker key',
      () => ({ ...clientTls(gw0421), pinnedPublicKeys: [pki.publicKeyPin(gw0999.cert)] }),
      /public key is not pinned/,
    ],
    [
      'a servername the broker certificate does not carry',
      () => ({ ...clientTls(gw0421), servername: 'broker.example.com' }),
      /does not match certificate's altnames/,
    ],
  ];

  it.each(refusals)('the gateway refuses the broker with %s', async (_what, tls, error) => {
    const running = await runGateway(gatewayConfig({ tls: tls() }));
    scan(running, 'NOT-SENT');
    await waitFor(() => running.gateway.uplink.status().lastError, 'a TLS error', 20_000);
    const status = running.gateway.uplink.status();
    expect(status.lastError).toMatch(error);
    // Never connected: the event waits in the buffer.
    expect(status).toMatchObject({ connected: false, connectedSince: null, reconnects: 0 });
    await waitFor(() => running.gateway.outbox.stats().rows >= 1, 'the scan committed');
    expect(running.gateway.outbox.stats()).toMatchObject({ deadLetters: 0 });
  });
});

describe('mqtt.tls start-up checks', () => {
  function startError(tls: Record<string, unknown>, url?: string): Promise<GatewayError> {
    const config = gatewayConfig({ tls, ...(url ? { url } : {}) });
    return startGateway(config, { log: silentLogger() }).then(
      async (running) => {
        await running.stop();
        throw new Error('the gateway started');
      },
      (err: unknown) => {
        if (!isGatewayError(err, 'GW_ERR_TLS_CONFIG')) throw err;
        // Nothing was opened: the buffer file does not exist.
        expect(existsSync(config.buffer.path)).toBe(false);
        return err;
      },
    );
  }

  /** No PEM body, no passphrase: an error names files, never what is in them. */
  function expectNoSecrets(err: GatewayError): void {
    const text = `${err.message} ${JSON.stringify(err.details)}`;
    expect(text).not.toMatch(/-----BEGIN|-----END|[A-Za-z0-9+/]{40,}/);
    expect(text).not.toContain(PASSPHRASE);
  }

  it('lists every missing file with its config path and file path', async () => {
    const dir = tmpDir();
    cleanups.push(() => dir.cleanup());
    const missing = (name: string) => join(dir.path, name);
    const err = await startError({
      caFile: missing('ca.crt'),
      certFile: missing('gw.crt'),
      keyFile: missing('gw.key'),
    });
    expect(err.details).toEqual([
      { path: '/mqtt/tls/caFile', message: `cannot read ${missing('ca.crt')}: no such file` },
      { path: '/mqtt/tls/certFile', message: `cannot read ${missing('gw.crt')}: no such file` },
      { path: '/mqtt/tls/keyFile', message: `cannot read ${missing('gw.key')}: no such file` },
    ]);
    for (const name of ['ca.crt', 'gw.crt', 'gw.key']) expect(err.message).toContain(missing(name));
    expect(err.status).toBe(500);
  });

  it('refuses unusable keys with a reason and no secret', async () => {
    const dir = tmpDir();
    cleanups.push(() => dir.cleanup());
    mkdirSync(join(dir.path, 'key-dir'));
    const wrongPass = join(dir.path, 'wrong.pass');
    writeFileSync(wrongPass, 'not the passphrase\n');
    const cases: [Record<string, unknown>, string][] = [
      [
        { ...clientTls(gw0421), keyFile: join(dir.path, 'key-dir') },
        `cannot read ${join(dir.path, 'key-dir')}: is a directory`,
      ],
      [{ ...clientTls(gw0421), keyFile: gw0421.cert }, `${gw0421.cert} holds no usable PEM private key`],
      [clientTls(gw0421Encrypted), `${gw0421Encrypted.key} is encrypted: set mqtt.tls.keyPassphraseFile`],
      [
        { ...clientTls(gw0421Encrypted), keyPassphraseFile: wrongPass },
        `${gw0421Encrypted.key} cannot be decrypted with the passphrase in mqtt.tls.keyPassphraseFile`,
      ],
      [
        { ...clientTls(gw0421), keyFile: gw0999.key },
        `${gw0999.key} is not the key of the certificate in ${gw0421.cert}`,
      ],
    ];
    for (const [tls, message] of cases) {
      const err = await startError(tls);
      expect(err.details).toEqual([{ path: '/mqtt/tls/keyFile', message }]);
      expectNoSecrets(err);
    }
  });

  it('refuses a caFile holding a private key, a pin it cannot match and a plain mqtt:// URL', async () => {
    const dir = tmpDir();
    cleanups.push(() => dir.cleanup());
    const withKey = join(dir.path, 'ca-and-key.pem');
    writeFileSync(withKey, readFileSync(pki.ca.cert, 'utf8') + readFileSync(pki.ca.key, 'utf8'));
    const keyInCa = await startError({ caFile: withKey });
    expect(keyInCa.details).toEqual([
      { path: '/mqtt/tls/caFile', message: `${withKey} holds a private key: it must hold certificates only` },
    ]);
    expectNoSecrets(keyInCa);

    const pin = await startError({
      ...clientTls(gw0421),
      pinnedCaFingerprints: [pki.fingerprint(pki.foreignCa.cert)],
    });
    expect(pin.details).toEqual([
      {
        path: '/mqtt/tls/pinnedCaFingerprints',
        message: `no certificate in ${pki.ca.cert} has one of these SHA-256 fingerprints`,
      },
    ]);

    const plain = await startError(clientTls(gw0421), broker.url);
    expect(plain.details).toEqual([
      {
        path: '/mqtt/url',
        message: 'mqtt.tls is set, so the URL must start with mqtts://, tls:// or wss://',
      },
    ]);
  });

  it('the config schema wants certFile and keyFile together', () => {
    const dir = tmpDir();
    cleanups.push(() => dir.cleanup());
    const result = validateConfig(
      testConfig({
        dir: dir.path,
        mqttUrl: 'mqtts://broker.example.com',
        extra: { mqtt: { tls: { caFile: '/x/ca.crt', certFile: '/x/gw.crt', pinnedPublicKeys: ['nope'] } } },
      }),
    );
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.issues.map((i) => i.path)).toEqual(
      expect.arrayContaining(['/mqtt/tls', '/mqtt/tls/pinnedPublicKeys/0']),
    );
  });

  it('the daemon exits with the TLS problem in its log and never reports ready', async () => {
    const dir = tmpDir();
    cleanups.push(() => dir.cleanup());
    const keyFile = join(dir.path, 'absent.key');
    const file = writeConfig(
      configPath(dir.path),
      testConfig({
        dir: dir.path,
        mqttUrl: broker.tlsUrl,
        extra: { mqtt: { tls: { ...clientTls(gw0421), keyFile } } },
      }),
    );
    const gw = GatewayProcess.run(file);
    const exit = await gw.exit;
    expect(exit.code).not.toBe(0);
    expect(gw.apiUrl).toBeUndefined();
    const fatal = gw.lines.find((l) => l.msg === 'gateway failed to start');
    expect(fatal?.err).toMatchObject({ code: 'GW_ERR_TLS_CONFIG' });
    const message = (fatal?.err as { message?: string } | undefined)?.message;
    expect(message).toContain(`cannot read ${keyFile}: no such file`);
  });
});
