import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { identityJourney } from '../../simulators/app-shopper.js';
import { PresenceDemo } from '../../simulators/ble-store.js';
import { posJourney } from '../../simulators/pos-lane.js';
import { SimulatedStore } from '../../simulators/store.js';
import { type EmbeddedBroker, startEmbeddedBroker } from '../broker/embedded.js';
import { validateConfig } from '../config/load.js';
import { EventConsumer } from '../consumer/consumer.js';
import { EXIT } from '../errors.js';
import { createLogger } from '../logger.js';
import { sleep } from '../util/sleep.js';
import { printConfigIssues } from './output.js';
import { type Running, startGateway } from './run.js';
import { attachPrinter } from './tail.js';

export interface DemoOptions {
  lanes: number;
  rate: number;
  mqttPort: number;
  apiPort: number;
  dir: string;
  /** Stop after this many seconds (0 = until Ctrl-C). */
  duration: number;
  logLevel: string;
  tail: boolean;
}

async function brokerOnPort(port: number): Promise<EmbeddedBroker> {
  try {
    return await startEmbeddedBroker({ port });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    process.stderr.write(`port ${port} is taken; the demo broker uses a free port instead\n`);
    return startEmbeddedBroker({ port: 0 });
  }
}

/**
 * `store-gateway demo`: a whole store on one machine with no hardware and no root. An embedded MQTT
 * 3.1.1 broker, checkout lanes with scanners on pseudo-terminals, the real gateway between them, and
 * a live tail of what central receives. Ctrl-C stops everything cleanly.
 */
export async function demoCommand(opts: DemoOptions): Promise<number> {
  const dir = resolve(opts.dir);
  mkdirSync(dir, { recursive: true });
  const broker = await brokerOnPort(opts.mqttPort);
  const store = new SimulatedStore({
    devDir: join(dir, 'dev'),
    lanes: opts.lanes,
    rate: opts.rate,
    unplugEverySec: 45,
    unplugForSec: 4,
  });
  await store.plugAll();
  const journey = posJourney({ dir, storeId: '0421', lanes: opts.lanes });
  const presence = new PresenceDemo(dir);
  // The identification step: app codes and coupons at a lane, Wi-Fi sign-ins (docs/IDENTITY.md).
  const identity = identityJourney({ dir, tokensFile: journey.tokensFile, scanners: store.lanes });
  const checked = validateConfig({
    store: { id: '0421' },
    gateway: { id: 'demo-gw' },
    mqtt: { url: broker.url, protocolVersion: 4 },
    buffer: { path: join(dir, 'buffer.db'), maxBytes: '256MiB', minFreeBytes: '64MiB' },
    api: { host: '127.0.0.1', port: opts.apiPort, tokensFile: journey.tokensFile },
    ...journey.sections,
    ...presence.configSections(),
    ...identity.sections,
    log: { level: opts.logLevel, pretty: true },
    devices: [...store.deviceConfigs(), ...presence.devices()],
  });
  if (!checked.ok) {
    printConfigIssues('demo config', checked.issues);
    await store.stop();
    await broker.close();
    return EXIT.CONFIG;
  }
  const config = checked.config;
  const log = createLogger({ level: opts.logLevel, pretty: true, destination: 2 });
  // Central subscribes first, so it sees the gateway's very first events.
  const consumer = new EventConsumer({ url: broker.url, storeId: config.store.id });
  if (opts.tail) attachPrinter(consumer);
  await consumer.start();
  let running: Running;
  try {
    running = await startGateway(config, { log, transports: presence.transports });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    process.stderr.write(`port ${opts.apiPort} is taken; the local API uses a free port instead\n`);
    config.api.port = 0;
    running = await startGateway(config, { log, transports: presence.transports });
  }
  const apiAddress = running.api?.addresses()[0] as { address: string; port: number } | undefined;
  process.stderr.write(
    [
      '',
      'store-gateway demo: a simulated store',
      `  broker     ${broker.url} (embedded, MQTT 3.1.1) — try: store-gateway tail --url ${broker.url}`,
      `  local API  http://${apiAddress?.address}:${apiAddress?.port}/v1/status  /metrics  /readyz`,
      `  buffer     ${config.buffer.path}`,
      `  POS        lanes post transactions (tokens in ${journey.tokensFile}); personalization pushes an offer when the loyalty app enters`,
      ...store.lanes.map((l) => `  ${l.id.padEnd(15)} ${l.scanner.options.linkPath}  ${l.note}`),
      ...presence.notes(),
      ...identity.notes(),
      '  every 45 s one scanner cable is pulled for 4 s; watch the status events',
      `  ${opts.duration > 0 ? `stops after ${opts.duration} s` : 'Ctrl-C stops everything'}`,
      '',
      '',
    ].join('\n'),
  );
  store.start();
  const apiUrl = `http://${apiAddress?.address}:${apiAddress?.port}`;
  await journey.start(apiUrl, broker.url, (err) => log.warn({ err }, 'simulated POS lane'), 'presence');
  presence.start(apiUrl);
  identity.start({
    apiUrl,
    brokerUrl: broker.url,
    posLanes: () => journey.posLanes,
    shoppers: () => presence.shoppersNow(),
    onError: (err) => log.warn({ err }, 'simulated identity journey'),
  });
  await new Promise<void>((resolveStop) => {
    const stop = () => resolveStop();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    if (opts.duration > 0) void sleep(opts.duration * 1000).then(stop);
  });
  process.stderr.write('\nstopping the demo…\n');
  await identity.stop();
  process.stderr.write(`${identity.summary()}\n`);
  await journey.stop();
  await presence.stop();
  await running.stop();
  await store.stop();
  await sleep(200);
  await consumer.stop();
  await broker.close();
  const { received, invalid, duplicates, gaps } = consumer.counts;
  process.stderr.write(
    `central received ${received} events: ${invalid} invalid, ${duplicates} duplicates, ${gaps} missing\n`,
  );
  log.flush();
  return invalid > 0 || gaps > 0 ? EXIT.FAILURE : EXIT.OK;
}
