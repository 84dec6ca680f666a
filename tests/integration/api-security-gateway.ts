import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { merakiBody } from '../../simulators/meraki.js';
import { DEMO_LOYALTY_ID } from '../../simulators/personalization.js';
import { newToken } from '../../simulators/pos-lane.js';
import { DEMO_STORE_MAP, registryConfig, zonesConfig } from '../../simulators/store-map.js';
import { validateConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import type { PosTransaction } from '../../src/pos/schema.js';
import { testConfig } from '../helpers/config.js';

/*
 * A gateway config with every API feature on (POS, offers, stream, Meraki, commands, status page)
 * and the secrets they need written to a temp dir: the common ground of the API security,
 * redaction and OpenAPI tests.
 */

export const MERAKI_PATH = '/v1/wifi/meraki';
export const MERAKI_SECRET = 'meraki-shared-secret-0421-abcdef';
export const MERAKI_VALIDATOR = 'da6a17c407bb11dfeec7392a5042be0a4cc034b6';
export const CLIENT_MAC = 'a4:83:e7:1c:22:9b';
export const AP_MAC = DEMO_STORE_MAP.accessPoints[0]?.mac as string;

export interface FullApiSetup {
  config: Config;
  tokens: { lane1: string; store: string; kiosk: string; status: string; unscoped: string };
}

export function fullApiConfig(
  dir: string,
  mqttUrl: string,
  extra: Record<string, unknown> = {},
  devices: Record<string, unknown>[] = [],
): FullApiSetup {
  const tokens = {
    lane1: newToken(),
    store: newToken(),
    kiosk: newToken(),
    status: newToken(),
    unscoped: newToken(),
  };
  const tokensFile = join(dir, 'api-tokens');
  writeFileSync(
    tokensFile,
    [
      `${tokens.lane1} lane-1 pos,offers`,
      `${tokens.store} * pos,offers`,
      `${tokens.kiosk} kiosk stream`,
      `${tokens.status} monitor status`,
      `${tokens.unscoped} backoffice`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  writeFileSync(join(dir, 'validator'), `${MERAKI_VALIDATOR}\n`);
  writeFileSync(join(dir, 'secret'), `${MERAKI_SECRET}\n`);
  const raw = testConfig({
    dir,
    mqttUrl,
    devices,
    extra: {
      api: { tokensFile, ...((extra.api as object) ?? {}) },
      pos: { enabled: true },
      offers: { enabled: true },
      stream: { enabled: true },
      commands: { enabled: true },
      zones: zonesConfig(DEMO_STORE_MAP),
      registry: registryConfig(DEMO_STORE_MAP),
      wifi: {
        meraki: { enabled: true, validatorFile: join(dir, 'validator'), secretFile: join(dir, 'secret') },
      },
      ...Object.fromEntries(Object.entries(extra).filter(([k]) => k !== 'api')),
    },
  });
  const checked = validateConfig(raw);
  if (!checked.ok) throw new Error(JSON.stringify(checked.issues));
  return { config: checked.config, tokens };
}

/** A valid transaction of lane-1 carrying a loyalty id. */
export function transaction(sequenceNumber: number, loyaltyAccountId = DEMO_LOYALTY_ID): PosTransaction {
  const end = new Date().toISOString();
  return {
    storeId: '0421',
    workstationId: 'lane-1',
    sequenceNumber,
    businessDayDate: end.slice(0, 10),
    endDateTime: end,
    currencyCode: 'EUR',
    loyaltyAccountId,
    lineItems: [
      {
        sequenceNumber: 1,
        type: 'sale',
        itemId: '4006381333931',
        gtin: '4006381333931',
        quantity: 1,
        unitPrice: 2.49,
        extendedAmount: 2.49,
      },
    ],
    tenders: [{ type: 'cash', amount: 2.49 }],
    totals: { grand: 2.49 },
  };
}

/** A Meraki WiFi post with one client seen by the first access point. */
export function merakiPost(secret = MERAKI_SECRET, mac = CLIENT_MAC): Record<string, unknown> {
  return merakiBody([{ mac, rssi: { [AP_MAC]: 40 }, time: Date.now() }], { secret, type: 'WiFi' });
}
