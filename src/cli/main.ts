import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { EXIT } from '../errors.js';
import { VERSION } from '../paths.js';
import { bufferStatsCommand } from './buffer-stats.js';
import { configCheckCommand } from './config-check.js';
import { demoCommand } from './demo.js';
import { devicesCommand } from './devices.js';
import { recordCommand } from './record.js';
import { runCommand } from './run.js';
import { tailCommand } from './tail.js';

const int = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a whole number`);
  return n;
};

const positive = (name: string) => (value: string) => {
  const n = Number(value);
  if (!(n > 0)) throw new InvalidArgumentError(`${name} must be a positive number`);
  return n;
};

/** Sets the exit code once a command's promise settles; the event loop then drains and exits. */
function exitWith(code: number | Promise<number>): Promise<void> {
  return Promise.resolve(code).then((c) => {
    process.exitCode = c;
  });
}

export function buildCli(): Command {
  const program = new Command('store-gateway')
    .description(
      'In-store edge gateway: scanners, beacons, Wi-Fi presence and POS to MQTT, buffered in SQLite.',
    )
    .version(VERSION)
    .showHelpAfterError()
    // Usage errors exit 64 (EX_USAGE), not commander's 1, so scripts can tell them from failures.
    .exitOverride();

  program
    .command('run')
    .description('run the gateway (as the systemd service does)')
    .requiredOption('-c, --config <file>', 'config file', '/etc/store-gateway/config.yaml')
    .action((o: { config: string }) => exitWith(runCommand(o.config)));

  program
    .command('demo')
    .description('run a simulated store with an embedded broker and a live tail; no hardware, no root')
    .addOption(new Option('--lanes <n>', 'checkout lanes').default(3).argParser(int('lanes')))
    .addOption(
      new Option('--rate <n>', 'scans per second per lane while a shopper scans')
        .default(1)
        .argParser(positive('rate')),
    )
    .addOption(
      new Option('--mqtt-port <port>', 'embedded broker port (0 = any free port)')
        .default(1883)
        .argParser(int('port')),
    )
    .addOption(
      new Option('--api-port <port>', 'local API port (0 = any free port)')
        .default(8080)
        .argParser(int('port')),
    )
    .addOption(
      new Option('--dir <dir>', 'state directory for the demo (buffer, device links)').default('.demo'),
    )
    .addOption(
      new Option('--duration <seconds>', 'stop after this long (0 = until Ctrl-C)')
        .default(0)
        .argParser(int('duration')),
    )
    .addOption(new Option('--log-level <level>', 'gateway log level').default('info'))
    .option('--no-tail', 'do not print the events central receives')
    .action((o) => exitWith(demoCommand(o)));

  const config = program.command('config').description('configuration tools');
  config
    .command('check <file>')
    .description('validate a config file; prints every error with its path (exit 78 when invalid)')
    .action((file: string) => exitWith(configCheckCommand(file)));

  program
    .command('devices')
    .description('list serial ports with their USB vendor, product and serial number')
    .option('--json', 'machine-readable output')
    .action((o: { json?: boolean }) => exitWith(devicesCommand(o)));

  program
    .command('record')
    .description("capture a device's raw data to a .jsonl file, for replay (replay: FILE in a device entry)")
    .requiredOption('-c, --config <file>', 'config file', '/etc/store-gateway/config.yaml')
    .requiredOption('--device <id>', 'device id from the config')
    .requiredOption('--out <file>', 'recording to write (.jsonl)')
    .addOption(
      new Option('--duration <seconds>', 'stop after this long (default: until Ctrl-C)').argParser(
        positive('duration'),
      ),
    )
    .action((o: { config: string; device: string; out: string; duration?: number }) =>
      exitWith(recordCommand(o)),
    );

  program
    .command('tail')
    .description('subscribe to event topics like a central consumer: validate and pretty-print')
    .requiredOption('--url <url>', 'broker URL, e.g. mqtt://127.0.0.1:1883')
    .option('--store <id>', 'only this store')
    .option('--gateway <id>', 'only this gateway')
    .addOption(new Option('--mqtt-version <v>', 'MQTT protocol version').choices(['4', '5']).default('4'))
    .option('--json', 'one JSON object per line')
    .action((o) => exitWith(tailCommand(o)));

  const buffer = program.command('buffer').description('buffer tools');
  buffer
    .command('stats')
    .description('what waits in the buffer (read-only; safe while the gateway runs)')
    .requiredOption('-c, --config <file>', 'config file', '/etc/store-gateway/config.yaml')
    .option('--json', 'machine-readable output')
    .action((o: { config: string; json?: boolean }) => exitWith(bufferStatsCommand(o.config, o)));

  return program;
}

try {
  await buildCli().parseAsync(process.argv);
} catch (err) {
  if (!(err instanceof CommanderError)) throw err;
  process.exitCode = err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
}
