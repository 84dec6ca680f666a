import { chmodSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Fastify from 'fastify';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bearerAuth, openTokenFile, parseTokens, principalOf, TokenFile } from '../../src/api/auth.js';
import { isGatewayError } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import { Metrics } from '../../src/metrics.js';
import { tmpDir } from '../helpers/tmp.js';

const A = 'a'.repeat(32);
const B = 'b'.repeat(32);
const C = 'c'.repeat(32);

describe('parseTokens', () => {
  it('reads token, name and optional scopes; skips comments and blank lines', () => {
    const { tokens, issues } = parseTokens(`# lanes\n\n${A} lane-1 pos,offers   # the first lane\n${B} *\n`);
    expect(issues).toEqual([]);
    expect([...tokens.values()]).toEqual([
      { name: 'lane-1', scopes: new Set(['pos', 'offers']) },
      { name: '*', scopes: null },
    ]);
    // Only digests are kept.
    expect([...tokens.keys()].some((k) => k.includes(A))).toBe(false);
  });

  it('reports every bad line with its number', () => {
    const { issues } = parseTokens(
      [
        `short lane-1`,
        `${A} lane/1`,
        `${B} lane-2 POS`,
        `${C} lane-3 pos extra`,
        `${A} lane-4`,
        `${A} lane-5`,
      ].join('\n'),
    );
    expect(issues.map((i) => i.line)).toEqual([1, 2, 3, 4, 6]);
    expect(issues[4]?.message).toBe('the same token appears twice');
  });
});

describe('TokenFile', () => {
  let dir: ReturnType<typeof tmpDir>;
  let now: number;
  let file: string;
  const clock = { now: () => now };

  beforeEach(() => {
    dir = tmpDir('sg-auth-');
    now = 1_000_000;
    file = join(dir.path, 'tokens');
    writeFileSync(file, `${A} lane-1 pos\n`, { mode: 0o600 });
  });
  afterEach(() => dir.cleanup());

  it('looks tokens up, and picks up a changed file within a second', () => {
    const tf = new TokenFile(file, { log: silentLogger(), clock });
    expect(tf.lookup(A)?.name).toBe('lane-1');
    expect(tf.lookup(B)).toBeUndefined();
    writeFileSync(file, `${B} lane-2 pos\n`);
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    now += 1000;
    expect(tf.lookup(A)).toBeUndefined();
    expect(tf.lookup(B)?.name).toBe('lane-2');
  });

  it('keeps the old tokens when the file turns bad or disappears', () => {
    const tf = new TokenFile(file, { log: silentLogger(), clock });
    writeFileSync(file, 'garbage\n');
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    now += 1000;
    expect(tf.lookup(A)?.name).toBe('lane-1');
    unlinkSync(file);
    now += 1000;
    expect(tf.lookup(A)?.name).toBe('lane-1');
  });

  it('refuses to start on a missing or bad file, or with none configured', () => {
    const deps = { log: silentLogger(), clock };
    writeFileSync(file, `${A} lane-1\nnot-a-token\n`);
    const bad = (() => {
      try {
        return new TokenFile(file, deps);
      } catch (err) {
        return err;
      }
    })();
    expect(isGatewayError(bad, 'GW_ERR_TOKENS_FILE')).toBe(true);
    expect((bad as Error).message).toContain('line 2');
    expect(() => new TokenFile(join(dir.path, 'missing'), deps)).toThrow(/cannot read/);
    expect(() => openTokenFile(undefined, 'pos', deps)).toThrow(
      'pos needs bearer tokens: set api.tokensFile',
    );
  });

  it('warns when other users may read the file', () => {
    const lines: string[] = [];
    const log = pino(
      { level: 'warn' },
      new Writable({
        write(chunk, _enc, cb) {
          lines.push(String(chunk));
          cb();
        },
      }),
    );
    chmodSync(file, 0o644);
    new TokenFile(file, { log, clock });
    expect(lines.join('')).toContain('tokens file is readable by other users');
    lines.length = 0;
    chmodSync(file, 0o600);
    new TokenFile(file, { log, clock });
    expect(lines).toEqual([]);
  });
});

describe('bearerAuth on a fastify route', () => {
  let dir: ReturnType<typeof tmpDir>;
  beforeEach(() => {
    dir = tmpDir('sg-auth-');
  });
  afterEach(() => dir.cleanup());

  it('401 without or with a wrong token, 403 without the scope, the principal otherwise', async () => {
    const file = join(dir.path, 'tokens');
    writeFileSync(file, `${A} lane-1 pos\n${B} kiosk stream\n`, { mode: 0o600 });
    const metrics = new Metrics();
    const tokens = new TokenFile(file, { log: silentLogger(), clock: { now: Date.now } });
    const app = Fastify();
    app.setErrorHandler((err: Error & { status?: number; code?: string }, _req, reply) =>
      reply.status(err.status ?? 500).send({ error: err.code }),
    );
    app.get('/x', { onRequest: bearerAuth({ tokens, scope: 'pos', metrics }) }, async (req) =>
      principalOf(req),
    );
    app.get(
      '/q',
      { onRequest: bearerAuth({ tokens, scope: 'pos', metrics, allowQueryToken: true }) },
      async () => 'ok',
    );
    const res = (headers: Record<string, string>, url = '/x') => app.inject({ method: 'GET', url, headers });
    expect((await res({})).statusCode).toBe(401);
    expect((await res({ authorization: `Bearer ${C}` })).statusCode).toBe(401);
    expect((await res({ authorization: `Bearer ${B}` })).statusCode).toBe(403);
    const ok = await res({ authorization: `bearer  ${A}` });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ name: 'lane-1', scopes: {} });
    // The query token is accepted only where the route allows it.
    expect((await res({}, `/x?access_token=${A}`)).statusCode).toBe(401);
    expect((await res({}, `/q?access_token=${A}`)).statusCode).toBe(200);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/sg_api_auth_failures_total\{reason="missing"\} 2/);
    expect(text).toMatch(/sg_api_auth_failures_total\{reason="invalid"\} 1/);
    expect(text).toMatch(/sg_api_auth_failures_total\{reason="scope"\} 1/);
    await app.close();
  });
});
