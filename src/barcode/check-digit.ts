/**
 * GS1 check digits (General Specifications §7.9). Pure; callers pass digit strings only.
 */

/** Mod-10 check digit of `digits` (weights 3, 1, 3, … from the right). GTIN-8/12/13/14, SSCC, GLN. */
export function gs1CheckDigit(digits: string): number {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    const d = digits.charCodeAt(digits.length - 1 - i) - 48;
    sum += i % 2 === 0 ? d * 3 : d;
  }
  return (10 - (sum % 10)) % 10;
}

/** True when the last digit of `code` is the GS1 check digit of the others. */
export function hasValidCheckDigit(code: string): boolean {
  if (code.length < 2 || !/^[0-9]+$/.test(code)) return false;
  return gs1CheckDigit(code.slice(0, -1)) === code.charCodeAt(code.length - 1) - 48;
}

// Weighting factors of §7.9.2: the product's digit for each input digit 0–9.
const TWO_MINUS = [0, 2, 4, 6, 8, 9, 1, 3, 5, 7];
const THREE = [0, 3, 6, 9, 2, 5, 8, 1, 4, 7];
const FIVE_PLUS = [0, 5, 1, 6, 2, 7, 3, 8, 4, 9];
const FIVE_MINUS = [0, 5, 9, 4, 8, 3, 7, 2, 6, 1];

const FOUR_DIGIT_WEIGHTS = [TWO_MINUS, TWO_MINUS, THREE, FIVE_MINUS];
const FIVE_DIGIT_WEIGHTS = [FIVE_PLUS, TWO_MINUS, FIVE_MINUS, FIVE_PLUS, TWO_MINUS];

function weightedSum(value: string, weights: readonly (readonly number[])[]): number {
  let sum = 0;
  for (let i = 0; i < value.length; i++) sum += weights[i]?.[value.charCodeAt(i) - 48] ?? 0;
  return sum;
}

/**
 * The price/weight check digit of a 4- or 5-digit value field in a variable-measure code (§7.9.3,
 * §7.9.4); `null` for any other length or a non-digit.
 */
export function priceCheckDigit(value: string): number | null {
  if (!/^[0-9]{4,5}$/.test(value)) return null;
  if (value.length === 4) return (weightedSum(value, FOUR_DIGIT_WEIGHTS) * 3) % 10;
  const target = (10 - (weightedSum(value, FIVE_DIGIT_WEIGHTS) % 10)) % 10;
  return FIVE_MINUS.indexOf(target);
}
