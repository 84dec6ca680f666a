import { sleep } from '../src/util/sleep.js';
import { type Shopper, shopperPosition } from './shoppers.js';

export interface SignIn {
  accountId: string;
  mac: string;
  consent: boolean;
  consentScopes?: string[];
}

export interface SignInResult {
  status: number;
  body: Record<string, unknown>;
}

/**
 * The store's captive portal (or Wi-Fi controller): when a shopper signs in on the guest Wi-Fi with
 * her account, it reports the sign-in to the gateway (POST /v1/identity/wifi-signin, bearer scope
 * identity), with her consent as she gave it on the portal page.
 */
export class CaptivePortal {
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly seen = new Set<string>();
  readonly results: SignInResult[] = [];

  constructor(readonly options: { apiUrl: string; token: string; path?: string }) {}

  async signIn(s: SignIn): Promise<SignInResult> {
    const res = await fetch(`${this.options.apiUrl}${this.options.path ?? '/v1/identity/wifi-signin'}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.options.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(s),
      signal: this.abort.signal,
    });
    const text = await res.text();
    const result = { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
    this.results.push(result);
    return result;
  }

  /**
   * The demo: at most every `everyMs`, the next shopper with the loyalty app who is in the store
   * signs in; every other one declines the consent box (nothing is linked for her).
   */
  runDemo(opts: {
    shoppers: () => readonly Shopper[];
    everyMs: number;
    onError?: (err: unknown) => void;
  }): void {
    const signal = this.abort.signal;
    let n = 0;
    let last = Number.NEGATIVE_INFINITY;
    this.loop = (async () => {
      while (await sleep(1000, signal)) {
        const now = Date.now();
        if (now - last < opts.everyMs) continue;
        const next = opts
          .shoppers()
          .find((s) => s.loyaltyMinor !== undefined && !this.seen.has(s.id) && shopperPosition(s, now));
        if (!next) continue;
        this.seen.add(next.id);
        last = now;
        const consent = n++ % 2 === 0;
        await this.signIn({
          accountId: `LOY-0421-${String(next.loyaltyMinor).padStart(6, '0')}`,
          mac: next.wifiMac,
          consent,
          ...(consent ? { consentScopes: ['presence', 'offers'] } : {}),
        }).catch((err: unknown) => {
          if (!signal.aborted) opts.onError?.(err);
        });
      }
    })();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }
}
