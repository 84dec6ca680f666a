import { EventEmitter } from 'node:events';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { advertisementFromAd } from '../../drivers/ble-beacons/ad.js';

type Gap = {
  parseServices(address: string, eir: Buffer, previously: boolean, type: number): Record<string, unknown>;
};

async function nobleGap(): Promise<Gap> {
  const Gap = (await import('@abandonware/noble/lib/hci-socket/gap.js')).default;
  return new Gap(new EventEmitter()) as unknown as Gap;
}

describe('advertisementFromAd agrees with noble’s own GAP parser', () => {
  it('on 20,000 random advertising data buffers (where noble does not throw)', async () => {
    const gap = await nobleGap();
    let compared = 0;
    const adBytes = fc.array(
      fc.oneof(
        fc
          .tuple(
            fc.constantFrom(0x01, 0x02, 0x03, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x16, 0x20, 0x21, 0xff),
            fc.uint8Array({ maxLength: 20 }),
          )
          .map(([type, data]) => Buffer.concat([Buffer.from([data.length + 1, type]), Buffer.from(data)])),
        fc.uint8Array({ maxLength: 6 }).map((a) => Buffer.from(a)),
      ),
      { maxLength: 4 },
    );
    fc.assert(
      fc.property(adBytes, (parts) => {
        const eir = Buffer.concat(parts);
        const mine = advertisementFromAd(eir);
        let theirs: Record<string, unknown>;
        try {
          theirs = gap.parseServices('00:00:00:00:00:00', eir, false, 0x03);
        } catch {
          return; // noble throws on e.g. an empty Tx Power structure; ours does not
        }
        compared++;
        expect(mine.serviceUuids).toEqual(theirs.serviceUuids);
        expect(mine.serviceData).toEqual(theirs.serviceData);
        expect(mine.manufacturerData).toEqual(theirs.manufacturerData);
        expect(mine.localName).toEqual(theirs.localName);
        expect(mine.txPowerLevel).toEqual(theirs.txPowerLevel);
      }),
      { numRuns: 20_000 },
    );
    expect(compared).toBeGreaterThan(15_000);
  });
});
