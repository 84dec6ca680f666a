/**
 * `npm run fleet -- --gateways 50`: one Mosquitto, N gateway processes with simulated stores,
 * central consumers in shared subscription groups; checks exactly-once per group after dedupe
 * and no seq gap per gateway, and prints rates, CPU and memory (docs/RELIABILITY.md).
 *
 * Options: --gateways N (50), --duration S (30), --events N (per store, instead of a duration),
 * --rate N (transactions/s per store, 2), --lanes N (POS lanes per store, 10), --groups N (2),
 * --consumers N (per group, 2), --start-concurrency N (4), --receive-maximum N (20),
 * --batch-threshold N (gateways' mqtt.batch.threshold; 0: every event in a batch), --batch-gateways N
 * (only the first N gateways get that threshold), --drain-timeout S (120), --keep, --json.
 * Exits 1 when a check fails.
 */
import { parseArgs } from 'node:util';
import { FLEET_DEFAULTS, type FleetOptions, killFleetChildren, runFleet } from './fleet.js';
import { formatReport } from './report.js';

const { values } = parseArgs({
  options: {
    gateways: { type: 'string' },
    duration: { type: 'string' },
    events: { type: 'string' },
    rate: { type: 'string' },
    lanes: { type: 'string' },
    groups: { type: 'string' },
    consumers: { type: 'string' },
    'start-concurrency': { type: 'string' },
    'receive-maximum': { type: 'string' },
    'batch-threshold': { type: 'string' },
    'batch-gateways': { type: 'string' },
    'drain-timeout': { type: 'string' },
    keep: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});

function int(name: string, value: string | undefined, fallback: number, min = 1, integer = true): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if ((integer && !Number.isInteger(n)) || !Number.isFinite(n) || n < min) {
    process.stderr.write(`fleet: --${name} must be ${integer ? 'an integer' : 'a number'} >= ${min}\n`);
    process.exit(2);
  }
  return n;
}

const d = FLEET_DEFAULTS;
const options: Partial<FleetOptions> = {
  gateways: int('gateways', values.gateways, d.gateways),
  durationSec: int('duration', values.duration, d.durationSec),
  ratePerGateway: int('rate', values.rate, d.ratePerGateway, 0.01, false),
  lanes: int('lanes', values.lanes, d.lanes),
  groups: int('groups', values.groups, d.groups),
  consumersPerGroup: int('consumers', values.consumers, d.consumersPerGroup),
  startConcurrency: int('start-concurrency', values['start-concurrency'], d.startConcurrency),
  receiveMaximum: int('receive-maximum', values['receive-maximum'], d.receiveMaximum),
  drainTimeoutSec: int('drain-timeout', values['drain-timeout'], d.drainTimeoutSec),
  keep: values.keep,
  log: (line) => process.stderr.write(`fleet: ${line}\n`),
};
if (values.events !== undefined) options.eventsPerGateway = int('events', values.events, 0);
if (values['batch-threshold'] !== undefined)
  options.batchThreshold = int('batch-threshold', values['batch-threshold'], 0, 0);
if (values['batch-gateways'] !== undefined)
  options.batchGateways = int('batch-gateways', values['batch-gateways'], 0, 0);

process.once('SIGINT', () => {
  killFleetChildren();
  process.exit(130);
});

try {
  const result = await runFleet(options);
  process.stdout.write(`${formatReport(result)}\n`);
  if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exitCode = result.pass ? 0 : 1;
} catch (err) {
  process.stderr.write(`fleet: FAIL: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
}
