import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Paths redacted from every log line. Drivers and the API never log raw device addresses or
 * request bodies; these paths are the backstop if a bound object carries one anyway.
 */
export const REDACT_PATHS = [
  'password',
  '*.password',
  'authorization',
  '*.authorization',
  'req.headers.authorization',
  'mac',
  '*.mac',
  'address',
  '*.address',
  // Presence: Meraki posts carry raw client MACs and the shared secret.
  'clientMac',
  '*.clientMac',
  'secret',
  '*.secret',
  'req.body',
  // Local API: bearer tokens (header, ?access_token=, a token bound by mistake), cookies, bodies.
  'token',
  '*.token',
  'access_token',
  '*.access_token',
  'req.query',
  'req.headers.cookie',
  'headers.authorization',
  '*.headers.authorization',
  'body',
  '*.body',
  // POS: the loyalty account a transaction names; offers: the shopper an offer is for.
  'loyaltyAccountId',
  '*.loyaltyAccountId',
  'loyaltyId',
  '*.loyaltyId',
  // Identity: the loyalty account of a Wi-Fi sign-in, and the keyed hash that stands for one.
  'accountId',
  '*.accountId',
  'loyaltyHash',
  '*.loyaltyHash',
];

export function createLogger(opts: { level?: string; pretty?: boolean; destination?: number } = {}): Logger {
  const base = {
    level: opts.level ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { pid: process.pid },
  };
  if (opts.pretty) {
    return pino({
      ...base,
      transport: {
        target: 'pino-pretty',
        options: {
          destination: opts.destination ?? 1,
          translateTime: 'HH:MM:ss.l',
          ignore: 'pid,hostname',
          singleLine: true,
        },
      },
    });
  }
  return pino(base, pino.destination({ dest: opts.destination ?? 1, sync: false }));
}

/** A logger that drops everything, for tools and tests that have nothing to say. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
