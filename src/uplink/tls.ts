import { createHash, createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { Type } from '@sinclair/typebox';
import type { Config } from '../config/schema.js';
import { GatewayError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { SchemaIssue } from '../schema/ajv.js';

/*
 * TLS to the broker (docs/SECURITY.md). Everything is read and checked once, when the gateway
 * starts: a missing or unreadable file, a key that does not fit its certificate or a pin that
 * cannot match is a GW_ERR_TLS_CONFIG listing every problem by config path and file path, before
 * the service reports ready. Messages name files, never what is in them.
 *
 * Trust: the broker's certificate must chain to a certificate in `caFile`; Node's built-in list of
 * public CAs is not used once `ca` is given. `pinnedCaFingerprints` further requires the chain to
 * pass through one of the named certificates, `pinnedPublicKeys` the broker's own key to be one
 * of the named keys. Both are checked on every connection, after the usual chain and name checks.
 */

/** `mqtt.tls` in the config (src/config/schema.ts). Files, so keys can be systemd credentials. */
export const MqttTlsConfig = Type.Object(
  {
    caFile: Type.String({
      minLength: 1,
      description:
        "PEM file of the CA certificate(s) the broker's certificate must chain to; the only ones trusted (the system CA store is not used)",
    }),
    certFile: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'PEM file of the client certificate (then any intermediates) shown to the broker',
      }),
    ),
    keyFile: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'PEM file of the client private key (e.g. a systemd credential)',
      }),
    ),
    keyPassphraseFile: Type.Optional(
      Type.String({ minLength: 1, description: 'file holding the passphrase of an encrypted keyFile' }),
    ),
    servername: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          "name the broker's certificate must carry, also sent as SNI; default: the host of mqtt.url",
      }),
    ),
    rejectUnauthorized: Type.Boolean({
      default: true,
      description: 'refuse a broker whose certificate does not verify; false only in a lab',
    }),
    pinnedCaFingerprints: Type.Optional(
      Type.Array(Type.String({ pattern: '^[0-9A-Fa-f]{2}(:?[0-9A-Fa-f]{2}){31}$' }), {
        minItems: 1,
        description:
          "SHA-256 fingerprints of CA certificates in caFile; the broker's chain must pass through one (openssl x509 -noout -fingerprint -sha256)",
      }),
    ),
    pinnedPublicKeys: Type.Optional(
      Type.Array(Type.String({ pattern: '^(sha256//)?[A-Za-z0-9+/]{43}=$' }), {
        minItems: 1,
        description:
          "base64 SHA-256 of the broker certificate's public key (SubjectPublicKeyInfo); list the next key too before a rotation",
      }),
    ),
  },
  {
    additionalProperties: false,
    // draft-07 `dependencies`: a certificate needs its key, and a passphrase needs a key.
    dependencies: { certFile: ['keyFile'], keyFile: ['certFile'], keyPassphraseFile: ['keyFile'] },
    description: 'TLS to the broker with a client certificate (docs/SECURITY.md); needs an mqtts:// URL',
  },
);

export type TlsConfig = NonNullable<Config['mqtt']['tls']>;

/** The TLS part of mqtt.js's client options. */
export interface MqttTlsOptions {
  ca: Buffer;
  cert?: Buffer;
  key?: Buffer;
  passphrase?: string;
  servername?: string;
  rejectUnauthorized: boolean;
  checkServerIdentity: (host: string, cert: PeerCertificate) => Error | undefined;
  /** For wss:// URLs: mqtt.js hands only some TLS options to the WebSocket client. */
  wsOptions?: Record<string, unknown>;
}

/** What the gateway logs about its TLS setup; no secrets. */
export interface TlsSummary {
  caFile: string;
  ca: { subject: string; fingerprint256: string; validTo: string }[];
  client: { subject: string; issuer: string; serialNumber: string; validTo: string } | null;
  servername: string | null;
  rejectUnauthorized: boolean;
  pinnedCaFingerprints: number;
  pinnedPublicKeys: number;
}

export interface LoadedTls {
  options: MqttTlsOptions;
  summary: TlsSummary;
  /** Conditions that do not stop the gateway (it keeps buffering) but need store IT. */
  warnings: string[];
}

const TLS_SCHEMES = new Set(['mqtts:', 'tls:', 'wss:']);
const EXPIRY_WARNING_DAYS = 30;
const DAY_MS = 86_400_000;
const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const PEM_PRIVATE_KEY = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;
/** PKCS#8 `ENCRYPTED PRIVATE KEY`, or a traditional PEM key with `Proc-Type: 4,ENCRYPTED`. */
const ENCRYPTED_KEY = /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/;

/** SHA-256 fingerprint as uppercase hex without separators; accepts `AB:CD:…` or `abcd…`. */
export function normalizeFingerprint(value: string): string {
  return value.replaceAll(':', '').toUpperCase();
}

/** A `pinnedPublicKeys` entry without its optional `sha256//` prefix (curl's notation). */
export function normalizePublicKeyPin(value: string): string {
  return value.startsWith('sha256//') ? value.slice('sha256//'.length) : value;
}

/** base64 SHA-256 of a certificate's SubjectPublicKeyInfo: the `pinnedPublicKeys` value for it. */
export function publicKeyPin(cert: X509Certificate | Buffer): string {
  const x509 = cert instanceof X509Certificate ? cert : new X509Certificate(cert);
  const spki = x509.publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

/** The certificates of a peer's chain, leaf first, as far as Node built it (root included). */
function chainOf(leaf: PeerCertificate): PeerCertificate[] {
  const chain: PeerCertificate[] = [];
  let cert: PeerCertificate | undefined = leaf;
  while (cert && !chain.includes(cert)) {
    chain.push(cert);
    const next: PeerCertificate | undefined = (cert as { issuerCertificate?: PeerCertificate })
      .issuerCertificate;
    cert = next && next !== cert ? next : undefined;
  }
  return chain;
}

function pinError(message: string): Error {
  return Object.assign(new Error(message), { code: 'ERR_SG_TLS_PIN' });
}

class Reader {
  readonly issues: SchemaIssue[] = [];

  fail(path: string, message: string): void {
    this.issues.push({ path, message });
  }

  /** The file's bytes, or undefined with an issue naming the path and the reason (never the content). */
  read(key: string, file: string): Buffer | undefined {
    try {
      const data = readFileSync(file);
      if (data.length === 0) {
        this.fail(key, `${file} is empty`);
        return undefined;
      }
      return data;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why =
        code === 'ENOENT'
          ? 'no such file'
          : code === 'EACCES' || code === 'EPERM'
            ? 'permission denied for the service user'
            : code === 'EISDIR'
              ? 'is a directory'
              : (code ?? 'unreadable');
      this.fail(key, `cannot read ${file}: ${why}`);
      return undefined;
    }
  }

  certificates(key: string, file: string, data: Buffer): X509Certificate[] {
    const text = data.toString('latin1');
    const blocks = text.match(PEM_CERT) ?? [];
    if (blocks.length === 0) {
      this.fail(key, `${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
      return [];
    }
    const certs: X509Certificate[] = [];
    blocks.forEach((block, i) => {
      try {
        certs.push(new X509Certificate(block));
      } catch {
        this.fail(key, `certificate ${i + 1} in ${file} cannot be parsed`);
      }
    });
    return certs;
  }

  privateKey(key: string, file: string, data: Buffer, passphrase: string | undefined): KeyObject | undefined {
    try {
      return createPrivateKey({
        key: data,
        format: 'pem',
        ...(passphrase === undefined ? {} : { passphrase }),
      });
    } catch (err) {
      const code = (err as { code?: string }).code;
      const encrypted = ENCRYPTED_KEY.test(data.toString('latin1')) || code === 'ERR_MISSING_PASSPHRASE';
      if (passphrase === undefined && encrypted) {
        this.fail(key, `${file} is encrypted: set mqtt.tls.keyPassphraseFile`);
      } else if (passphrase !== undefined && encrypted) {
        this.fail(key, `${file} cannot be decrypted with the passphrase in mqtt.tls.keyPassphraseFile`);
      } else {
        this.fail(key, `${file} holds no usable PEM private key`);
      }
      return undefined;
    }
  }
}

function describeCert(c: X509Certificate) {
  return { subject: c.subject.replaceAll('\n', ', '), validTo: new Date(c.validTo).toISOString() };
}

/** Warnings for a certificate that is expired, not yet valid or close to expiry at `now`. */
function validityWarnings(what: string, file: string, c: X509Certificate, now: number): string[] {
  const from = Date.parse(c.validFrom);
  const to = Date.parse(c.validTo);
  if (to < now) return [`${what} in ${file} expired on ${new Date(to).toISOString()}`];
  if (from > now) {
    return [`${what} in ${file} is valid only from ${new Date(from).toISOString()}; check the system clock`];
  }
  const days = Math.floor((to - now) / DAY_MS);
  return days < EXPIRY_WARNING_DAYS ? [`${what} in ${file} expires in ${days} days`] : [];
}

/** The CA certificates of `caFile`, with warnings for ones that are no CA or out of date. */
function readCa(r: Reader, tls: TlsConfig, warnings: string[], now: number) {
  const data = r.read('/mqtt/tls/caFile', tls.caFile);
  if (!data) return { data, certs: [] };
  const certs = r.certificates('/mqtt/tls/caFile', tls.caFile, data);
  if (PEM_PRIVATE_KEY.test(data.toString('latin1'))) {
    r.fail('/mqtt/tls/caFile', `${tls.caFile} holds a private key: it must hold certificates only`);
  }
  for (const c of certs) {
    if (!c.ca) warnings.push(`${tls.caFile}: ${c.subject} is not a CA certificate`);
    warnings.push(...validityWarnings(`CA certificate ${c.subject}`, tls.caFile, c, now));
  }
  return { data, certs };
}

/** The client certificate and key, checked to belong together. */
function readClient(r: Reader, tls: TlsConfig, warnings: string[], now: number) {
  const passphrase = tls.keyPassphraseFile
    ? r
        .read('/mqtt/tls/keyPassphraseFile', tls.keyPassphraseFile)
        ?.toString('utf8')
        .replace(/\r?\n$/, '')
    : undefined;
  const certData = tls.certFile ? r.read('/mqtt/tls/certFile', tls.certFile) : undefined;
  const keyData = tls.keyFile ? r.read('/mqtt/tls/keyFile', tls.keyFile) : undefined;
  const leaf =
    certData && tls.certFile ? r.certificates('/mqtt/tls/certFile', tls.certFile, certData)[0] : undefined;
  // Without the passphrase file there is nothing to try; that file's own issue says why.
  const canDecrypt = !tls.keyPassphraseFile || passphrase !== undefined;
  const key =
    keyData && tls.keyFile && canDecrypt
      ? r.privateKey('/mqtt/tls/keyFile', tls.keyFile, keyData, passphrase)
      : undefined;
  if (leaf && key && !leaf.checkPrivateKey(key)) {
    r.fail('/mqtt/tls/keyFile', `${tls.keyFile} is not the key of the certificate in ${tls.certFile}`);
  }
  if (leaf && tls.certFile)
    warnings.push(...validityWarnings('the client certificate', tls.certFile, leaf, now));
  if (keyData && tls.keyFile) {
    try {
      if ((statSync(tls.keyFile).mode & 0o077) !== 0) {
        warnings.push(`${tls.keyFile} is readable by other users; chmod 600 it`);
      }
    } catch {}
  }
  return { certData, keyData, leaf, passphrase };
}

/** The pins, normalised; a CA pin must name a certificate of `caFile` or it could never match. */
function readPins(r: Reader, tls: TlsConfig, caCerts: X509Certificate[]) {
  const caPins = new Set((tls.pinnedCaFingerprints ?? []).map(normalizeFingerprint));
  const keyPins = new Set((tls.pinnedPublicKeys ?? []).map(normalizePublicKeyPin));
  if (caPins.size > 0 && caCerts.length > 0) {
    if (!caCerts.some((c) => caPins.has(normalizeFingerprint(c.fingerprint256)))) {
      r.fail(
        '/mqtt/tls/pinnedCaFingerprints',
        `no certificate in ${tls.caFile} has one of these SHA-256 fingerprints`,
      );
    }
  }
  if (!tls.rejectUnauthorized && (caPins.size > 0 || keyPins.size > 0)) {
    r.fail(
      '/mqtt/tls/rejectUnauthorized',
      'must be true when pins are set: pins are checked only on a verified chain',
    );
  }
  return { caPins, keyPins };
}

/**
 * Node calls this after the chain verified against `ca`: the usual name check, then the pins.
 * The chain Node hands over runs up to the root, taken from `ca` when the broker did not send it.
 */
function brokerVerifier(caPins: Set<string>, keyPins: Set<string>) {
  return (host: string, cert: PeerCertificate): Error | undefined => {
    const err = checkServerIdentity(host, cert);
    if (err) return err;
    if (caPins.size > 0 && !chainOf(cert).some((c) => caPins.has(normalizeFingerprint(c.fingerprint256)))) {
      return pinError(
        "the broker's certificate chain does not include a pinned CA (mqtt.tls.pinnedCaFingerprints)",
      );
    }
    if (keyPins.size > 0 && !keyPins.has(publicKeyPin(cert.raw))) {
      return pinError("the broker's public key is not pinned (mqtt.tls.pinnedPublicKeys)");
    }
    return undefined;
  };
}

/**
 * Reads and checks `mqtt.tls`; undefined when it is not configured. Throws GW_ERR_TLS_CONFIG with
 * every problem when the files cannot be used. An expired certificate is only a warning: the clock
 * of a box that just booted may be wrong, and the gateway must keep buffering either way.
 */
export function loadMqttTls(mqtt: Config['mqtt'], now = Date.now()): LoadedTls | undefined {
  const tls = mqtt.tls;
  if (!tls) return undefined;
  const r = new Reader();
  const warnings: string[] = [];
  let scheme = '';
  try {
    scheme = new URL(mqtt.url).protocol;
  } catch {}
  if (!TLS_SCHEMES.has(scheme)) {
    r.fail('/mqtt/url', 'mqtt.tls is set, so the URL must start with mqtts://, tls:// or wss://');
  }
  const ca = readCa(r, tls, warnings, now);
  const client = readClient(r, tls, warnings, now);
  const { caPins, keyPins } = readPins(r, tls, ca.certs);
  if (!tls.rejectUnauthorized) {
    warnings.push("mqtt.tls.rejectUnauthorized is false: the broker's certificate is not checked");
  }
  if (r.issues.length > 0 || !ca.data) {
    throw new GatewayError(
      'GW_ERR_TLS_CONFIG',
      `mqtt.tls cannot be used: ${r.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
      { details: r.issues },
    );
  }
  const options: MqttTlsOptions = {
    ca: ca.data,
    ...(client.certData ? { cert: client.certData } : {}),
    ...(client.keyData ? { key: client.keyData } : {}),
    ...(client.passphrase === undefined ? {} : { passphrase: client.passphrase }),
    ...(tls.servername ? { servername: tls.servername } : {}),
    rejectUnauthorized: tls.rejectUnauthorized,
    checkServerIdentity: brokerVerifier(caPins, keyPins),
  };
  if (scheme === 'wss:') options.wsOptions = { ...options };
  const { leaf } = client;
  return {
    options,
    warnings,
    summary: {
      caFile: tls.caFile,
      ca: ca.certs.map((c) => ({ ...describeCert(c), fingerprint256: c.fingerprint256 })),
      client: leaf
        ? {
            ...describeCert(leaf),
            issuer: leaf.issuer.replaceAll('\n', ', '),
            serialNumber: leaf.serialNumber,
          }
        : null,
      servername: tls.servername ?? null,
      rejectUnauthorized: tls.rejectUnauthorized,
      pinnedCaFingerprints: caPins.size,
      pinnedPublicKeys: keyPins.size,
    },
  };
}

/** Loads `mqtt.tls` (see loadMqttTls) and logs what the gateway will present and trust. */
export function loadMqttTlsLogged(mqtt: Config['mqtt'], log: Logger): LoadedTls | undefined {
  const loaded = loadMqttTls(mqtt);
  if (!loaded) return undefined;
  log.info({ tls: loaded.summary }, 'mqtt tls: broker certificate checked against caFile only');
  for (const warning of loaded.warnings) log.warn({ tls: { caFile: loaded.summary.caFile } }, warning);
  return loaded;
}
