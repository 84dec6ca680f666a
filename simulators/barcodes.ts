/** Barcodes for simulations: real check digits, a small product catalogue, a seeded generator. */

/** GS1 mod-10 check digit of the digits given (weights 3,1,3,… from the right). */
export function gs1CheckDigit(digits: string): number {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    const d = digits.charCodeAt(digits.length - 1 - i) - 48;
    sum += i % 2 === 0 ? d * 3 : d;
  }
  return (10 - (sum % 10)) % 10;
}

export const withCheckDigit = (digits: string) => `${digits}${gs1CheckDigit(digits)}`;

export interface SimBarcode {
  /** The content as a scanner sends it, without AIM prefix or framing. */
  text: string;
  /** The AIM identifier a scanner configured to send one would prefix. */
  aim: string;
  name: string;
}

export const DEMO_PRODUCTS: readonly SimBarcode[] = [
  { text: withCheckDigit('400638133393'), aim: ']E0', name: 'sparkling water 1l' },
  { text: withCheckDigit('501234567890'), aim: ']E0', name: 'oat biscuits' },
  { text: withCheckDigit('871234500001'), aim: ']E0', name: 'gouda 500g' },
  { text: withCheckDigit('003600029145'), aim: ']E0', name: 'dish soap' },
  { text: withCheckDigit('9638507'), aim: ']E4', name: 'chewing gum' },
  {
    text: `01${withCheckDigit('0950600013435')}17291231\u001d10ABC123`,
    aim: ']C1',
    name: 'yoghurt, lot ABC123',
  },
  { text: 'https://id.gs1.org/01/09506000134352', aim: ']Q1', name: 'digital link on a poster' },
];

/** A small deterministic PRNG (mulberry32) so simulations can be replayed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function pick<T>(items: readonly T[], random: () => number): T {
  return items[Math.floor(random() * items.length)] as T;
}
