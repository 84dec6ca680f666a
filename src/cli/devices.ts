import { nodeSerialTransport } from '../../drivers/serial-scanner/transport.js';
import { EXIT } from '../errors.js';
import { fail } from './output.js';

/** `store-gateway devices`: serial ports with their USB identity, for writing `path` or `match`. */
export async function devicesCommand(opts: { json?: boolean }): Promise<number> {
  let ports: Awaited<ReturnType<typeof nodeSerialTransport.list>>;
  try {
    ports = await nodeSerialTransport.list();
  } catch (err) {
    fail(`cannot list serial ports: ${(err as Error).message}`);
    return EXIT.FAILURE;
  }
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(ports, null, 2)}\n`);
    return EXIT.OK;
  }
  if (ports.length === 0) {
    process.stdout.write('no serial ports found\n');
    return EXIT.OK;
  }
  const rows = ports.map((p) => [
    p.path,
    p.vendorId ?? '-',
    p.productId ?? '-',
    p.serialNumber ?? '-',
    p.manufacturer ?? '-',
  ]);
  const head = ['PATH', 'VENDOR', 'PRODUCT', 'SERIAL', 'MANUFACTURER'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  for (const r of [head, ...rows])
    process.stdout.write(`${r.map((c, i) => c.padEnd(widths[i] as number)).join('  ')}\n`);
  return EXIT.OK;
}
