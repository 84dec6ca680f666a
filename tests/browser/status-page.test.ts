import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_PRODUCTS } from '../../simulators/barcodes.js';
import { merakiBody } from '../../simulators/meraki.js';
import { SimulatedSerialScanner } from '../../simulators/serial-scanner.js';
import { DEMO_STORE_MAP, registryConfig, zonesConfig } from '../../simulators/store-map.js';
import { type Running, startGateway } from '../../src/cli/run.js';
import { validateConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/logger.js';
import { rootPath } from '../../src/paths.js';
import { testConfig } from '../helpers/config.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

/*
 * The status page in Debian's Chromium, driven by playwright-core (which never downloads a
 * browser): a gateway runs with a real Mosquitto, a PTY scanner and Meraki presence posts; the page
 * must show them live. The screenshot is written to test-artifacts/status-page.png.
 */

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = rootPath('test-artifacts');
const SCREENSHOT = join(ARTIFACTS, 'status-page.png');
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SECRET = 'meraki-shared-secret-browser-0421';
const AP = DEMO_STORE_MAP.accessPoints[2] as { mac: string; zone: string };

describe('status page in Chromium (Mosquitto, PTY scanner, Meraki presence)', () => {
  const dir = tmpDir('sg-status-page-');
  const profile = mkdtempSync(join(tmpdir(), 'sg-chromium-'));
  let broker: Mosquitto;
  let scanner: SimulatedSerialScanner;
  let running: Running | undefined;
  let context: BrowserContext | undefined;
  let page: Page;
  let base: string;
  const problems: string[] = [];

  const text = async (selector: string) => ((await page.textContent(selector)) ?? '').trim();
  /** Waits until the element's whole text is `value` (the page refreshes every 2 s). */
  const shows = (selector: string, value: string, timeout = 10_000) =>
    page.locator(selector, { hasText: new RegExp(`^${value}$`) }).waitFor({ timeout });

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `${CHROMIUM} is missing: install Debian's Chromium (apt-get install chromium); .ci/run installs it`,
      );
    }
    broker = await Mosquitto.start();
    scanner = new SimulatedSerialScanner({
      linkPath: join(dir.path, 'scanner'),
      framing: { suffix: '\r\n' },
      aim: true,
    });
    await scanner.plug();
    writeFileSync(join(dir.path, 'validator'), 'validator-0421\n');
    writeFileSync(join(dir.path, 'secret'), `${SECRET}\n`);
    const checked = validateConfig(
      testConfig({
        dir: dir.path,
        mqttUrl: broker.url,
        devices: [{ id: 'lane-1', kind: 'serial-scanner', path: scanner.options.linkPath, aim: true }],
        extra: {
          api: { statusPage: { sampleSec: 1 } },
          zones: zonesConfig(DEMO_STORE_MAP),
          registry: registryConfig(DEMO_STORE_MAP),
          presence: { wifi: { minDwellSec: 0 }, tickMs: 200 },
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
    running = await startGateway(checked.config, { log: silentLogger() });
    base = `http://127.0.0.1:${((running.api as NonNullable<typeof running.api>).server.address() as AddressInfo).port}`;
    const gateway = running.gateway;
    await waitFor(() => gateway.status().uplink?.connected, 'uplink connected', 20_000);

    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      viewport: { width: 1280, height: 1000 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    // Anything the CSP blocks, and any script error, shows up here.
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    page.on('pageerror', (err) => problems.push(err.message));
    page.on('response', (r) => {
      if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`);
    });
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await running?.stop();
    await scanner?.unplug();
    await broker?.dispose();
    rmSync(profile, { recursive: true, force: true });
    dir.cleanup();
  });

  it('loads and shows the gateway, its uplink and its devices', async () => {
    const res = await page.goto(`${base}/`);
    expect(res?.status()).toBe(200);
    expect(await page.title()).toBe('store-gateway status');
    await shows('#ident', '0421 / gw-test');
    await shows('#uplink-state', 'connected');
    const lane = page.locator('#devices tr[data-device="lane-1"]');
    await lane.locator('.state', { hasText: 'connected' }).waitFor();
    expect(await lane.locator('td').nth(1).textContent()).toBe('serial-scanner');
    expect(await text('#gateway-state')).toBe('running');
    expect(await text('#uplink-broker')).toContain('127.0.0.1');
  });

  it('shows a scan in the recent events as it happens', async () => {
    const code = DEMO_PRODUCTS[0] as (typeof DEMO_PRODUCTS)[number];
    await scanner.scan(code);
    const item = page.locator('#events li[data-type="retail.scan.v1"]', { hasText: code.text });
    await item.waitFor({ timeout: 20_000 });
    expect(await item.textContent()).toContain('lane-1');
    await page.locator('#devices tr[data-device="lane-1"] .readings', { hasText: '1' }).waitFor();
  });

  it('shows presence by zone from a Meraki post', async () => {
    const post = () =>
      fetch(`${base}/v1/wifi/meraki`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(
          merakiBody([{ mac: '3c:22:fb:10:20:30', rssi: { [AP.mac]: 45 }, time: Date.now() }], {
            secret: SECRET,
            type: 'WiFi',
          }),
        ),
      });
    expect((await post()).status).toBe(200);
    const zone = page.locator(`#zones tr[data-zone="${AP.zone}"]`);
    await waitFor(
      async () => {
        if ((await zone.count()) > 0) return true;
        await post();
        return false;
      },
      `zone ${AP.zone} on the page`,
      20_000,
      1000,
    );
    expect(await zone.locator('td').nth(1).textContent()).toBe('1');
    await page.locator('#events li[data-type="retail.presence.enter.v1"]', { hasText: AP.zone }).waitFor();
  });

  it('shows the buffer filling while the broker is down and draining after, over time', async () => {
    await broker.stop();
    await shows('#uplink-state', 'disconnected');
    await scanner.scanMany(DEMO_PRODUCTS.slice(1, 6));
    await waitFor(
      async () => Number(await text('#buffer-rows')) >= 5,
      'a buffer depth of 5 on the page',
      20_000,
    );
    await broker.restart();
    await shows('#uplink-state', 'connected', 30_000);
    await shows('#buffer-rows', '0', 30_000);
    // The chart has a line through the samples, and its peak is the backlog seen.
    const points = await page.getAttribute('#chart-line polyline', 'points');
    expect((points ?? '').split(' ').length).toBeGreaterThan(2);
    expect(await text('#chart-caption')).toMatch(/max [5-9]|max [1-9][0-9]/);
    expect(Number(await text('#uplink-rate'))).toBeGreaterThanOrEqual(0);
  }, 90_000);

  it('writes a screenshot and met no script error or CSP violation', async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(statSync(SCREENSHOT).size).toBeGreaterThan(10_000);
    expect(problems).toEqual([]);
  });

  it('serves /docs, listing the operations of the OpenAPI document', async () => {
    await page.goto(`${base}/docs`);
    const row = page.locator('#operations tr', { hasText: '/v1/status/history' });
    await row.waitFor();
    expect(await page.locator('#operations tbody tr').count()).toBeGreaterThanOrEqual(8);
    expect(problems).toEqual([]);
  });
});
