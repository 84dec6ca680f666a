/**
 * Classification of hardware addresses, for flagging randomized ones. Pure; the raw address is
 * only read, never returned or stored.
 */

/** Lower-case hex digits of a MAC/BLE address without separators; '' when it is not 6 octets. */
export function normalizeAddress(address: string): string {
  const hex = address.toLowerCase().replace(/[^0-9a-f]/g, '');
  return hex.length === 12 ? hex : '';
}

/**
 * A Wi-Fi MAC is locally administered (randomized by the phone) when bit 1 of its first octet is
 * set: the second hex digit is 2, 6, A or E.
 */
export function isRandomizedMac(mac: string): boolean {
  const hex = normalizeAddress(mac);
  if (!hex) return false;
  return (Number.parseInt(hex.slice(0, 2), 16) & 0x02) !== 0;
}

/**
 * BLE address kinds (Core spec Vol 6 Part B 1.3): a public address, or a random one whose two top
 * bits say static (11), resolvable private (01) or non-resolvable private (00).
 */
export type BleAddressKind = 'public' | 'random-static' | 'random-resolvable' | 'random-non-resolvable';

export function bleAddressKind(address: string, addressType: string | undefined): BleAddressKind {
  if (addressType !== 'random') return 'public';
  const hex = normalizeAddress(address);
  const top = hex ? Number.parseInt(hex.slice(0, 2), 16) >> 6 : 0;
  if (top === 0b11) return 'random-static';
  if (top === 0b01) return 'random-resolvable';
  return 'random-non-resolvable';
}

/**
 * Private (rotating) BLE addresses change every few minutes, so their pseudonyms do too. A random
 * static address is stable until the device restarts and is not flagged.
 */
export function isRandomizedBle(address: string, addressType: string | undefined): boolean {
  const kind = bleAddressKind(address, addressType);
  return kind === 'random-resolvable' || kind === 'random-non-resolvable';
}
