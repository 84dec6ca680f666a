/**
 * ISO 4217 numeric → alphabetic currency codes for AIs 391n/393n. Only the currencies a store in
 * Europe, the Americas or Asia-Pacific is likely to print; other codes stay numeric.
 */
const ISO_4217: Record<string, string> = {
  '036': 'AUD',
  '124': 'CAD',
  '156': 'CNY',
  '191': 'HRK',
  '203': 'CZK',
  '208': 'DKK',
  '344': 'HKD',
  '348': 'HUF',
  '352': 'ISK',
  '356': 'INR',
  '376': 'ILS',
  '392': 'JPY',
  '410': 'KRW',
  '458': 'MYR',
  '484': 'MXN',
  '554': 'NZD',
  '578': 'NOK',
  '643': 'RUB',
  '702': 'SGD',
  '710': 'ZAR',
  '752': 'SEK',
  '756': 'CHF',
  '764': 'THB',
  '784': 'AED',
  '826': 'GBP',
  '840': 'USD',
  '901': 'TWD',
  '941': 'RSD',
  '946': 'RON',
  '949': 'TRY',
  '975': 'BGN',
  '978': 'EUR',
  '980': 'UAH',
  '985': 'PLN',
  '986': 'BRL',
};

/** The alphabetic code of an ISO 4217 numeric code, or the numeric code itself when unknown. */
export function currencyCode(numeric: string): string {
  return ISO_4217[numeric] ?? numeric;
}
