import { type Static, Type } from '@sinclair/typebox';
import { GatewayError } from '../errors.js';
import { isRandomizedMac, normalizeAddress } from '../privacy/address.js';
import { createAjv, describeErrors } from '../schema/ajv.js';

/**
 * The body a captive portal or Wi-Fi controller posts to POST /v1/identity/wifi-signin when a
 * shopper signs in on the store Wi-Fi with her account.
 */
export const WifiSigninBody = Type.Object(
  {
    accountId: Type.String({
      minLength: 1,
      maxLength: 64,
      pattern: '^[\\x21-\\x7e]+$',
      description: 'the shopper’s loyalty account id (1–64 printable ASCII characters)',
    }),
    mac: Type.String({
      pattern: '^[0-9A-Fa-f]{2}([:-]?[0-9A-Fa-f]{2}){5}$',
      description: 'the phone’s Wi-Fi MAC as the controller sees it; hashed at once, never kept',
    }),
    consent: Type.Boolean({ description: 'the shopper agreed to be recognised in the store' }),
    consentScopes: Type.Optional(
      Type.Array(Type.String({ pattern: '^[a-z][a-z0-9-]{0,31}$' }), {
        maxItems: 16,
        uniqueItems: true,
        description:
          'what she agreed to, e.g. ["presence", "offers"]; must include identity.wifi.requiredScopes',
      }),
    ),
    ssid: Type.Optional(Type.String({ maxLength: 32, description: 'the network she joined (not used)' })),
  },
  { additionalProperties: false },
);
export type WifiSigninBody = Static<typeof WifiSigninBody>;

const validate = createAjv({ allErrors: true }).compile(WifiSigninBody);

/** A checked sign-in; the MAC already normalised (it goes no further than the hash). */
export interface Signin {
  accountId: string;
  mac: string;
  randomized: boolean;
  consent: boolean;
  scopes: string[];
}

/** Checks a body; throws GW_ERR_REQUEST_INVALID naming the failing paths, never the values. */
export function checkSignin(body: unknown): Signin {
  if (!validate(body)) {
    const issues = describeErrors(validate.errors);
    throw new GatewayError(
      'GW_ERR_REQUEST_INVALID',
      `sign-in invalid: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`.slice(0, 2000),
      { details: issues },
    );
  }
  const b = body as WifiSigninBody;
  return {
    accountId: b.accountId,
    mac: normalizeAddress(b.mac),
    randomized: isRandomizedMac(b.mac),
    consent: b.consent,
    scopes: b.consentScopes ?? [],
  };
}

/** Why a sign-in links nothing: no consent, or consent without every required scope. */
export function consentRefusal(s: Pick<Signin, 'consent' | 'scopes'>, required: readonly string[]) {
  if (!s.consent) return 'no-consent' as const;
  const missing = required.filter((r) => !s.scopes.includes(r));
  return missing.length > 0 ? ('missing-scope' as const) : undefined;
}
