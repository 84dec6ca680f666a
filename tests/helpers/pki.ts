import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rootPath } from '../../src/paths.js';
import { Mosquitto } from './mosquitto.js';
import { tmpDir } from './tmp.js';

export const OPENSSL_BIN = process.env.OPENSSL_BIN ?? 'openssl';

/** A certificate and its private key, as PEM files. */
export interface CertFiles {
  cert: string;
  key: string;
}

export interface IssueOptions {
  /** The issuing CA: the store PKI (default) or the foreign one. */
  by?: 'ca' | 'foreign';
  /** Encrypts the key (PKCS#8, AES-256) with this passphrase. */
  passphrase?: string;
  /** Subject alternative names, e.g. `['DNS:localhost', 'IP:127.0.0.1']` (server certificates). */
  san?: string[];
  /** `clientAuth` (default) or `serverAuth`. */
  usage?: 'clientAuth' | 'serverAuth';
  days?: number;
}

/** Without a config file of its own, `openssl req` would read the distribution's openssl.cnf. */
const REQ_CONFIG = ['[req]', 'distinguished_name = dn', 'prompt = no', '[dn]', 'CN = unused', ''].join('\n');

/**
 * A throwaway PKI made with the openssl CLI, the same commands config/mosquitto/README.md gives
 * store IT: a CA for the store network (it signs the broker's and the gateways' certificates), a
 * foreign CA nobody trusts, and certificates issued on demand. ECDSA P-256 keys, so each costs a
 * few milliseconds even on a loaded machine. Files live in a temp dir; `cleanup()` removes it.
 */
export class Pki {
  private readonly tmp = tmpDir('sg-pki-');
  readonly dir = this.tmp.path;
  readonly ca: CertFiles;
  readonly foreignCa: CertFiles;

  private constructor() {
    writeFileSync(this.file('req.cnf'), REQ_CONFIG);
    this.ca = this.makeCa('ca', 'store-gateway test CA');
    this.foreignCa = this.makeCa('foreign-ca', 'foreign CA');
  }

  static create(): Pki {
    return new Pki();
  }

  file(name: string): string {
    return join(this.dir, name);
  }

  private openssl(args: string[]): void {
    execFileSync(OPENSSL_BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  }

  private makeCa(name: string, cn: string): CertFiles {
    const files = { cert: this.file(`${name}.crt`), key: this.file(`${name}.key`) };
    const cnf = this.file(`${name}.cnf`);
    writeFileSync(
      cnf,
      [
        REQ_CONFIG,
        '[v3]',
        'basicConstraints = critical, CA:TRUE',
        'keyUsage = critical, keyCertSign, cRLSign',
        'subjectKeyIdentifier = hash',
        '',
      ].join('\n'),
    );
    this.openssl([
      'req',
      '-x509',
      '-config',
      cnf,
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      files.key,
      '-out',
      files.cert,
      '-days',
      '30',
      '-subj',
      `/CN=${cn}`,
      '-extensions',
      'v3',
    ]);
    return files;
  }

  /** Issues a certificate with common name `cn` as `{name}.crt` / `{name}.key`. */
  issue(name: string, cn: string, opts: IssueOptions = {}): CertFiles {
    const issuer = opts.by === 'foreign' ? this.foreignCa : this.ca;
    const files = { cert: this.file(`${name}.crt`), key: this.file(`${name}.key`) };
    const csr = this.file(`${name}.csr`);
    const ext = this.file(`${name}.ext`);
    writeFileSync(
      ext,
      [
        '[v3]',
        'basicConstraints = critical, CA:FALSE',
        'keyUsage = critical, digitalSignature',
        `extendedKeyUsage = ${opts.usage ?? 'clientAuth'}`,
        'authorityKeyIdentifier = keyid',
        ...(opts.san?.length ? [`subjectAltName = ${opts.san.join(', ')}`] : []),
        '',
      ].join('\n'),
    );
    const plainKey = opts.passphrase ? this.file(`${name}.plain.key`) : files.key;
    this.openssl([
      'req',
      '-new',
      '-config',
      this.file('req.cnf'),
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      plainKey,
      '-subj',
      `/CN=${cn}`,
      '-out',
      csr,
    ]);
    this.openssl([
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      issuer.cert,
      '-CAkey',
      issuer.key,
      '-set_serial',
      `0x${randomBytes(16).toString('hex')}`,
      '-days',
      String(opts.days ?? 30),
      '-extfile',
      ext,
      '-extensions',
      'v3',
      '-out',
      files.cert,
    ]);
    if (opts.passphrase) {
      const pass = this.file(`${name}.pass`);
      writeFileSync(pass, `${opts.passphrase}\n`, { mode: 0o600 });
      this.openssl(['pkey', '-in', plainKey, '-aes256', '-passout', `file:${pass}`, '-out', files.key]);
    }
    return files;
  }

  /** The broker's certificate, valid for `localhost` and 127.0.0.1. */
  server(name = 'server', by: 'ca' | 'foreign' = 'ca'): CertFiles {
    return this.issue(name, 'localhost', { by, usage: 'serverAuth', san: ['DNS:localhost', 'IP:127.0.0.1'] });
  }

  /** `openssl x509 -noout -fingerprint -sha256`: the value for mqtt.tls.pinnedCaFingerprints. */
  fingerprint(certFile: string): string {
    const out = execFileSync(OPENSSL_BIN, ['x509', '-in', certFile, '-noout', '-fingerprint', '-sha256'], {
      encoding: 'utf8',
    });
    return out.trim().split('=')[1] as string;
  }

  /** base64 SHA-256 of the certificate's public key (the pipeline in docs/SECURITY.md). */
  publicKeyPin(certFile: string): string {
    const pubkey = execFileSync(OPENSSL_BIN, ['x509', '-in', certFile, '-noout', '-pubkey']);
    const der = execFileSync(OPENSSL_BIN, ['pkey', '-pubin', '-outform', 'der'], { input: pubkey });
    const digest = execFileSync(OPENSSL_BIN, ['dgst', '-sha256', '-binary'], { input: der });
    return execFileSync(OPENSSL_BIN, ['base64', '-A'], { input: digest, encoding: 'utf8' }).trim();
  }

  cleanup(): void {
    this.tmp.cleanup();
  }
}

const EXAMPLE_DIR = '/etc/mosquitto/store-gateway/';

/** config/mosquitto/mosquitto.conf as shipped, with its files in `dir` and a free port on loopback. */
export function exampleListener(port: number, dir: string): string {
  const conf = readFileSync(rootPath('config', 'mosquitto', 'mosquitto.conf'), 'utf8');
  if (!conf.includes(EXAMPLE_DIR) || !/^listener 8883$/m.test(conf)) {
    throw new Error('config/mosquitto/mosquitto.conf no longer has the lines this helper rewrites');
  }
  return conf.replaceAll(EXAMPLE_DIR, `${dir}/`).replace(/^listener 8883$/m, `listener ${port} 127.0.0.1`);
}

/**
 * A Mosquitto whose TLS listener (`tlsUrl`) is the example config with the example ACL file, the
 * broker certificate issued by `pki` for localhost. Every log line is kept: denied publishes are
 * debug lines, refused handshakes notices.
 */
export async function startExampleBroker(pki: Pki): Promise<Mosquitto> {
  pki.server();
  copyFileSync(rootPath('config', 'mosquitto', 'store-gateway.acl'), pki.file('store-gateway.acl'));
  return Mosquitto.start({
    extraConfig: 'log_type all',
    tlsListener: (port) => exampleListener(port, pki.dir),
  });
}
