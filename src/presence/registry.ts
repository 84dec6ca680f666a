import type { BeaconFrame } from '../../drivers/ble-beacons/frames.js';
import type { FixedBeaconConfig, RegistryConfig, TrackedTagConfig } from './config.js';

/** Which known beacon an advertisement comes from. */
export type RegistryMatch =
  | { role: 'fixed'; beacon: FixedBeaconConfig }
  | {
      role: 'tag';
      tag: TrackedTagConfig;
      /** The beacon identity within the tag class (uuid/major/minor, namespace/instance, id). */
      identity: string;
    }
  | { role: 'none' };

const normUuid = (u: string) => {
  const h = u.toLowerCase().replace(/-/g, '');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
};

type Matcher = (f: BeaconFrame) => boolean;

function matcher(entry: Pick<FixedBeaconConfig, 'ibeacon' | 'eddystone' | 'altbeacon'>): Matcher | undefined {
  const { ibeacon, eddystone, altbeacon } = entry;
  if (ibeacon) {
    const uuid = normUuid(ibeacon.uuid);
    return (f) =>
      f.format === 'ibeacon' &&
      f.uuid === uuid &&
      (ibeacon.major === undefined || f.major === ibeacon.major) &&
      (ibeacon.minor === undefined || f.minor === ibeacon.minor);
  }
  if (eddystone) {
    const ns = eddystone.namespace.toLowerCase();
    const inst = eddystone.instance?.toLowerCase();
    return (f) =>
      f.format === 'eddystone-uid' && f.namespace === ns && (inst === undefined || f.instance === inst);
  }
  if (altbeacon) {
    const prefix = altbeacon.beaconId.toLowerCase();
    return (f) => f.format === 'altbeacon' && f.beaconId.startsWith(prefix);
  }
  return undefined;
}

function identityOf(f: BeaconFrame): string {
  switch (f.format) {
    case 'ibeacon':
      return `${f.uuid}/${f.major}/${f.minor}`;
    case 'eddystone-uid':
      return `${f.namespace}/${f.instance}`;
    case 'altbeacon':
      return f.beaconId;
    default:
      return '';
  }
}

/** Problems a config's registry has that its schema cannot express; paths are JSON pointers. */
export function registryIssues(registry: RegistryConfig): { path: string; message: string }[] {
  const issues: { path: string; message: string }[] = [];
  const check = (
    list: readonly { id: string; ibeacon?: unknown; eddystone?: unknown; altbeacon?: unknown }[],
    at: string,
  ) => {
    const seen = new Set<string>();
    list.forEach((e, i) => {
      const ids = [e.ibeacon, e.eddystone, e.altbeacon].filter((v) => v !== undefined).length;
      if (ids !== 1)
        issues.push({
          path: `${at}/${i}`,
          message: 'needs exactly one of "ibeacon", "eddystone", "altbeacon"',
        });
      if (seen.has(e.id)) issues.push({ path: `${at}/${i}/id`, message: `duplicates another ${at} id` });
      seen.add(e.id);
    });
  };
  check(registry.beacons, '/registry/beacons');
  check(registry.tags, '/registry/tags');
  return issues;
}

/**
 * The store's known beacons: fixed beacons (mounted in a zone, watched for health) and tracked tags
 * (carried by people: a loyalty app advertising as an iBeacon, a staff badge). Fixed beacons are
 * matched first, so a tag class never swallows a store beacon with the same UUID.
 */
export class BeaconRegistry {
  private readonly fixed: { beacon: FixedBeaconConfig; match: Matcher }[];
  private readonly tags: { tag: TrackedTagConfig; match: Matcher }[];

  constructor(config: RegistryConfig) {
    this.fixed = config.beacons.flatMap((beacon) => {
      const match = matcher(beacon);
      return match ? [{ beacon, match }] : [];
    });
    this.tags = config.tags.flatMap((tag) => {
      const match = matcher(tag);
      return match ? [{ tag, match }] : [];
    });
  }

  get beacons(): FixedBeaconConfig[] {
    return this.fixed.map((f) => f.beacon);
  }

  match(frame: BeaconFrame | undefined): RegistryMatch {
    if (!frame) return { role: 'none' };
    for (const f of this.fixed) if (f.match(frame)) return { role: 'fixed', beacon: f.beacon };
    for (const t of this.tags)
      if (t.match(frame)) return { role: 'tag', tag: t.tag, identity: identityOf(frame) };
    return { role: 'none' };
  }
}
