import type { EventData } from '../events/catalog.js';
import type { SubjectLoyalty } from '../presence/identity-hook.js';
import type { Pseudonym } from '../privacy/pseudonymizer.js';
import type { LinkStore } from './links.js';
import { checkSignin, consentRefusal } from './signin.js';

type IdentifiedData = EventData<'retail.presence.identified.v1'>;

export type SigninResult = 'linked' | 'no-consent' | 'withdrawn';

export interface SigninAnswer {
  status: number;
  result: SigninResult;
  body: Record<string, unknown>;
}

export interface SigninDeps {
  /** Consent scopes a sign-in must carry (identity.wifi.requiredScopes). */
  required: readonly string[];
  /** The presence pseudonym of a normalised Wi-Fi MAC (namespace wifi, the day key). */
  pseudonym(mac: string, nowMs: number): Pseudonym;
  /** The loyalty fields presence events will carry for this account (id or hash). */
  loyaltyFor(accountId: string): SubjectLoyalty;
  links: LinkStore;
  /** The latest end of a link made at `now`: the end of the key day (the pseudonym dies then). */
  linkEnd(nowMs: number): number;
  now(): number;
  /** Builds, validates and commits the event; resolves after the commit (throws when refused). */
  commit(data: IdentifiedData, nowMs: number): Promise<{ id: string; seq: number }>;
}

/**
 * One Wi-Fi sign-in. The MAC is hashed here, at once, and goes no further. Without consent (or
 * without every required scope) nothing is linked or stored, and an earlier link of the device ends
 * (consent withdrawn). With consent, `retail.presence.identified.v1` is committed first and the link
 * made after, so a refused event (full buffer) leaves no link behind.
 */
export async function handleSignin(body: unknown, deps: SigninDeps): Promise<SigninAnswer> {
  const s = checkSignin(body);
  const now = deps.now();
  const refusal = consentRefusal(s, deps.required);
  const subject = deps.pseudonym(s.mac, now);
  s.mac = '';
  if (refusal) {
    const withdrawn = deps.links.unlink(subject.id);
    return {
      status: 200,
      result: withdrawn ? 'withdrawn' : 'no-consent',
      body: { linked: false, reason: refusal, ...(withdrawn ? { unlinked: true } : {}) },
    };
  }
  const loyalty = deps.loyaltyFor(s.accountId);
  const hardEnd = deps.linkEnd(now);
  const expiresAt = deps.links.expiryFor(now, hardEnd);
  const data: IdentifiedData = {
    subject: subject.id,
    epoch: subject.epoch,
    source: 'wifi',
    method: 'wifi-signin',
    randomized: s.randomized,
    consentScopes: s.scopes,
    expiresAt: new Date(expiresAt).toISOString(),
    ...loyalty,
  };
  const event = await deps.commit(data, now);
  deps.links.link(subject.id, loyalty, now, hardEnd);
  return {
    status: 202,
    result: 'linked',
    body: {
      linked: true,
      subject: subject.id,
      epoch: subject.epoch,
      expiresAt: data.expiresAt,
      eventId: event.id,
      seq: event.seq,
    },
  };
}
