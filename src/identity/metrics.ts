import { Counter, Gauge, type Registry } from 'prom-client';
import { SCAN_CATEGORIES } from './classify.js';

/** The identity feature's metrics (docs/OPERATIONS.md); part of `Metrics` so they exist from the start. */
export interface IdentityMetrics {
  scans: Counter<'category'>;
  signins: Counter<'result'>;
  links: Gauge;
  offersWarmed: Counter<'result'>;
}

export const SIGNIN_RESULTS = ['linked', 'no-consent', 'withdrawn', 'invalid', 'refused'] as const;

export function createIdentityMetrics(registers: Registry[]): IdentityMetrics {
  const m: IdentityMetrics = {
    scans: new Counter({
      name: 'sg_identity_scans_total',
      help: 'Scans classified, by category (product, loyalty, payment-token, coupon, url, unknown)',
      labelNames: ['category'],
      registers,
    }),
    signins: new Counter({
      name: 'sg_identity_signins_total',
      help: 'Wi-Fi sign-ins, by result (linked, no-consent, withdrawn, invalid, refused)',
      labelNames: ['result'],
      registers,
    }),
    links: new Gauge({
      name: 'sg_identity_links',
      help: 'Devices linked to a loyalty account by a Wi-Fi sign-in right now',
      registers,
    }),
    offersWarmed: new Counter({
      name: 'sg_identity_offers_warmed_total',
      help: 'Offers cache lookups made when a shopper was identified at a lane, by result (offers, none, no-cache)',
      labelNames: ['result'],
      registers,
    }),
  };
  for (const c of SCAN_CATEGORIES) m.scans.inc({ category: c }, 0);
  for (const r of SIGNIN_RESULTS) m.signins.inc({ result: r }, 0);
  return m;
}
