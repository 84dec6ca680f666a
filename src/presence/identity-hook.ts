/*
 * Extension points of presence for shopper identity (src/identity): presence offers its
 * pseudonymizer, so a Wi-Fi sign-in hashes a MAC exactly as presence does, and asks, for each event
 * it builds, whether the subject is linked to a loyalty account.
 */

/** Service (gateway.provide) under which presence offers its Pseudonymizer. */
export const PSEUDONYMIZER_SERVICE = 'presence.pseudonymizer';

/** Service under which a module tells presence who a subject is. */
export const SUBJECT_IDENTITY_SERVICE = 'presence.subject-identity';

/** The loyalty fields a presence event of a linked subject carries: one of the two. */
export interface SubjectLoyalty {
  loyaltyId?: string;
  loyaltyHash?: string;
}

export interface SubjectIdentity {
  /** The loyalty fields for `subject` heard by `source` at `nowMs`, or undefined when not linked. */
  identify(subject: string, source: 'ble' | 'wifi' | 'meraki-ble', nowMs: number): SubjectLoyalty | undefined;
}
