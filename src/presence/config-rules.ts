import type { Config } from '../config/schema.js';
import type { SchemaIssue } from '../schema/ajv.js';
import { registryIssues } from './registry.js';

/** Cross-field rules of the presence sections (the schema cannot express them). */
export function presenceConfigIssues(config: Config): SchemaIssue[] {
  const issues: SchemaIssue[] = registryIssues(config.registry);
  for (const source of ['ble', 'wifi'] as const) {
    const t = config.presence[source];
    if (t.exitMeters < t.enterMeters)
      issues.push({ path: `/presence/${source}/exitMeters`, message: 'must be at least enterMeters' });
  }
  const zoneIds = new Set<string>();
  config.zones.forEach((z, i) => {
    if (zoneIds.has(z.id)) issues.push({ path: `/zones/${i}/id`, message: 'duplicates another zone id' });
    zoneIds.add(z.id);
  });
  const meraki = config.wifi.meraki;
  if (meraki.enabled) {
    if (!meraki.secretFile)
      issues.push({ path: '/wifi/meraki/secretFile', message: 'is required when enabled' });
    if (!meraki.validatorFile)
      issues.push({ path: '/wifi/meraki/validatorFile', message: 'is required when enabled' });
  }
  return issues;
}
