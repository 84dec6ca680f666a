import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { iBeaconAd } from '../../simulators/ble-frames.js';
import { merakiBody } from '../../simulators/meraki.js';
import { DEMO_STORE_MAP, LOYALTY_UUID, registryConfig, zonesConfig } from '../../simulators/store-map.js';
import { buildApi } from '../../src/api/server.js';
import { validateConfig } from '../../src/config/load.js';
import { buildGateway, type Gateway } from '../../src/gateway.js';
import { silentLogger } from '../../src/logger.js';
import { testConfig } from '../helpers/config.js';
import { freePort } from '../helpers/ports.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const SECRET = 'meraki-shared-secret-0421';
const VALIDATOR = 'da6a17c407bb11dfeec7392a5042be0a4cc034b6';
const AP = DEMO_STORE_MAP.accessPoints.map((a) => a.mac);
const PATH = '/v1/wifi/meraki';

describe('Meraki Scanning API receiver on the local API', () => {
  const dir = tmpDir('sg-meraki-');
  let gateway: Gateway;
  let api: FastifyInstance;

  beforeAll(async () => {
    writeFileSync(join(dir.path, 'validator'), `${VALIDATOR}\n`);
    writeFileSync(join(dir.path, 'secret'), `${SECRET}\n`);
    const checked = validateConfig(
      testConfig({
        dir: dir.path,
        // No broker: events stay in the buffer, where the test reads them.
        mqttUrl: `mqtt://127.0.0.1:${await freePort()}`,
        extra: {
          zones: zonesConfig(DEMO_STORE_MAP),
          registry: registryConfig(DEMO_STORE_MAP),
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
    gateway = buildGateway(checked.config, { log: silentLogger() });
    await gateway.start();
    api = buildApi(gateway);
    await api.ready();
  });

  afterAll(async () => {
    await api?.close();
    await gateway?.stop();
    dir.cleanup();
  });

  const rows = () => gateway.outbox.read(0, 10_000).map((r) => ({ device: r[2], event: JSON.parse(r[3]) }));
  const presence = () => rows().filter((r) => String(r.event.type).startsWith('retail.presence.'));
  const subjects = () => (gateway.status().modules.presence as { subjects: number }).subjects;
  const post = (body: unknown) =>
    api.inject({
      method: 'POST',
      url: PATH,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify(body),
    });

  it('answers the validator on GET', async () => {
    const res = await api.inject({ method: 'GET', url: PATH });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe(VALIDATOR);
    expect(res.headers['content-type']).toContain('text/plain');
  });

  it('refuses a wrong or missing secret with 403 and stores nothing', async () => {
    const before = rows().length;
    const clients = [
      {
        mac: '3c:22:fb:00:00:01',
        position: [15, 12] as [number, number],
        rssi: { [AP[3] as string]: 45 },
        time: Date.now(),
      },
    ];
    const wrong = await post(merakiBody(clients, { secret: 'guess', type: 'WiFi' }));
    expect(wrong.statusCode).toBe(403);
    expect(wrong.json()).toMatchObject({ error: 'GW_ERR_FORBIDDEN' });
    const { secret: _drop, ...noSecret } = merakiBody(clients, { secret: SECRET, type: 'WiFi' });
    expect((await post(noSecret)).statusCode).toBe(403);
    expect((await post('not even an object')).statusCode).toBe(403);
    gateway.outbox.flush();
    expect(rows().length).toBe(before);
    expect(subjects()).toBe(0);
  });

  it('answers a malformed body with 400 and the failing path, and stores nothing', async () => {
    const body = merakiBody(
      [{ mac: '3c:22:fb:00:00:01', position: [15, 12], rssi: { [AP[3] as string]: 45 }, time: Date.now() }],
      {
        secret: SECRET,
        type: 'WiFi',
      },
    ) as { data: { observations: { locations: { x: unknown }[] }[] } };
    (body.data.observations[0]?.locations[0] as { x: unknown }).x = { nested: true };
    const res = await post(body);
    expect(res.statusCode).toBe(400);
    const answer = res.json() as { error: string; message: string; details: { path: string }[] };
    expect(answer.error).toBe('GW_ERR_REQUEST_INVALID');
    expect(answer.details.map((d) => d.path)).toContain('/data/observations/0/locations/0/x');
    expect(answer.message).toContain('/data/observations/0/locations/0/x');
    expect(subjects()).toBe(0);
  });

  it('accepts WiFi with numbers as strings: the client enters its zone, pseudonymized', async () => {
    const mac = '3c:22:fb:12:34:56';
    const res = await post(
      merakiBody([{ mac, position: [15, 12], rssi: { [AP[3] as string]: 45 }, time: Date.now() - 2000 }], {
        secret: SECRET,
        type: 'WiFi',
        numbersAsStrings: true,
      }),
    );
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ accepted: 1, unmapped: 0 });
    await waitFor(() => presence().length >= 1, 'an enter event in the buffer');
    const [enter] = presence();
    expect(enter?.device).toBe('presence');
    expect(enter?.event.type).toBe('retail.presence.enter.v1');
    expect(enter?.event.data).toMatchObject({
      source: 'wifi',
      zone: 'dairy',
      subjectType: 'device',
      randomized: false,
    });
    expect(enter?.event.data.subject).toMatch(/^[0-9a-f]{16}$/);
    expect(JSON.stringify(rows())).not.toMatch(/3c:?22:?fb:?12:?34:?56/i);
  });

  it.each(['BLE', 'Bluetooth'] as const)(
    'accepts type %s: a loyalty-app tag enters by its hashed identity',
    async (type) => {
      const before = presence().length;
      const raw = iBeaconAd({
        uuid: LOYALTY_UUID,
        major: 100,
        minor: type === 'BLE' ? 501 : 502,
        measuredPower: -59,
      }).toString('hex');
      const res = await post(
        merakiBody(
          [
            {
              mac: 'c1:5a:00:00:05:01',
              position: [3, 10],
              rssi: { [AP[2] as string]: 50 },
              time: Date.now(),
              bleRawData: raw,
            },
          ],
          {
            secret: SECRET,
            type,
          },
        ),
      );
      expect(res.statusCode).toBe(200);
      await waitFor(() => presence().length > before, `an enter for the ${type} post`);
      const enter = presence().at(-1);
      expect(enter?.event.data).toMatchObject({
        source: 'meraki-ble',
        zone: 'produce',
        subjectType: 'tag',
        tag: 'loyalty-app',
      });
    },
  );

  it('counts posts in /metrics', async () => {
    const metrics = (await api.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/sg_meraki_posts_total\{result="forbidden"\} 3/);
    expect(metrics).toMatch(/sg_meraki_posts_total\{result="invalid"\} 1/);
    expect(metrics).toMatch(/sg_meraki_posts_total\{result="accepted"\} 3/);
  });
});
