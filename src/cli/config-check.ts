import { EXIT } from '../errors.js';
import { readConfigOrReport } from './run.js';

/** `store-gateway config check FILE`: every error with its path; exit 78 when invalid. */
export function configCheckCommand(path: string): number {
  const config = readConfigOrReport(path);
  if (!config) return EXIT.CONFIG;
  process.stdout.write(
    `${path}: ok (store ${config.store.id}, gateway ${config.gateway.id}, ${config.devices.length} device${config.devices.length === 1 ? '' : 's'})\n`,
  );
  return EXIT.OK;
}
