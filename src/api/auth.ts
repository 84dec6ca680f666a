import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { FastifyError, FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type { Clock } from '../clock.js';
import { GatewayError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';

/**
 * Bearer tokens for the local API, read from a file (a systemd credential), never from the config.
 *
 * One token per line: `<token> <name> [scope,scope,…]`. `name` is the client the token belongs to;
 * for a POS lane it is the lane's workstation id, and the lane may then post only its own
 * transactions. `*` as the name is a client that may act for every lane (a store server). Scopes
 * name what the token may do (`pos`, `offers`, `stream`, or another feature's scope); without a
 * third column a token may do everything. `#` starts a comment; blank lines are ignored.
 *
 * Tokens are kept only as SHA-256 digests and looked up by digest, so a comparison never leaks how
 * much of a guess was right. The file is read again when it changes (checked at most once a
 * second), so tokens rotate without a restart; a file that turns unreadable or malformed keeps the
 * tokens already loaded and logs an error.
 */

export interface Principal {
  /** Client name: a lane's workstation id, another client's name, or `*`. */
  readonly name: string;
  /** Scopes the token grants; null grants every scope. */
  readonly scopes: ReadonlySet<string> | null;
}

export interface TokenIssue {
  line: number;
  message: string;
}

const TOKEN = /^[A-Za-z0-9._~+/=-]{16,512}$/;
const NAME = /^(\*|[A-Za-z0-9][A-Za-z0-9_.-]{0,63})$/;
const SCOPE = /^[a-z][a-z0-9-]{0,31}$/;
const RELOAD_CHECK_MS = 1000;

const digest = (token: string) => createHash('sha256').update(token).digest('hex');

/** Parses the text of a tokens file; tokens come back as digests. Every bad line is an issue. */
export function parseTokens(text: string): { tokens: Map<string, Principal>; issues: TokenIssue[] } {
  const tokens = new Map<string, Principal>();
  const issues: TokenIssue[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') return;
    const [token = '', name = '', scopes, ...rest] = line.split(/\s+/);
    const at = i + 1;
    if (rest.length > 0) issues.push({ line: at, message: 'too many fields (token name [scopes])' });
    else if (!TOKEN.test(token))
      issues.push({ line: at, message: 'token must be 16–512 characters of A-Z a-z 0-9 . _ ~ + / = -' });
    else if (!NAME.test(name)) issues.push({ line: at, message: 'name must be a lane or client id, or *' });
    else {
      const list = scopes === undefined ? null : scopes.split(',');
      const bad = list?.find((s) => !SCOPE.test(s));
      const key = digest(token);
      if (bad !== undefined) issues.push({ line: at, message: `scope ${JSON.stringify(bad)} is not valid` });
      else if (tokens.has(key)) issues.push({ line: at, message: 'the same token appears twice' });
      else tokens.set(key, { name, scopes: list ? new Set(list) : null });
    }
  });
  return { tokens, issues };
}

/** The tokens of one file, reloaded when the file changes. */
export class TokenFile {
  private tokens = new Map<string, Principal>();
  private mtimeMs = -1;
  private size = -1;
  private checkedAt = Number.NEGATIVE_INFINITY;

  /** Reads the file now; throws GW_ERR_TOKENS_FILE when it cannot be read or has a bad line. */
  constructor(
    readonly path: string,
    private readonly deps: { log: Logger; clock: Clock },
  ) {
    const issues = this.load();
    if (issues) {
      throw new GatewayError('GW_ERR_TOKENS_FILE', `${path}: ${issues.map((i) => i.message).join('; ')}`, {
        details: issues,
      });
    }
    const st = statSync(path);
    if ((st.mode & 0o077) !== 0) {
      deps.log.warn(
        { path, mode: (st.mode & 0o777).toString(8) },
        'tokens file is readable by other users; chmod 600 it',
      );
    }
  }

  get count(): number {
    return this.tokens.size;
  }

  /** The principal a token belongs to, or undefined. */
  lookup(token: string): Principal | undefined {
    this.maybeReload();
    return this.tokens.get(digest(token));
  }

  private maybeReload(): void {
    const now = this.deps.clock.now();
    if (now - this.checkedAt < RELOAD_CHECK_MS && now >= this.checkedAt) return;
    this.checkedAt = now;
    try {
      const st = statSync(this.path);
      if (st.mtimeMs === this.mtimeMs && st.size === this.size) return;
    } catch {
      // Unreadable now: load() reports it and keeps the tokens we have.
    }
    const issues = this.load();
    if (issues)
      this.deps.log.error({ path: this.path, issues }, 'tokens file not reloaded; keeping the old tokens');
    else this.deps.log.info({ path: this.path, tokens: this.tokens.size }, 'tokens file reloaded');
  }

  /** Returns the issues, or null once the tokens are replaced. */
  private load(): TokenIssue[] | null {
    let text: string;
    try {
      const st = statSync(this.path);
      text = readFileSync(this.path, 'utf8');
      this.mtimeMs = st.mtimeMs;
      this.size = st.size;
    } catch (err) {
      return [{ line: 0, message: `cannot read: ${(err as Error).message}` }];
    }
    const parsed = parseTokens(text);
    if (parsed.issues.length > 0)
      return parsed.issues.map((i) => ({ ...i, message: `line ${i.line}: ${i.message}` }));
    this.tokens = parsed.tokens;
    return null;
  }
}

export interface AuthOptions {
  /** The tokens; undefined means no tokens file is configured, so every request is refused. */
  tokens: TokenFile | undefined;
  /** The scope the route needs. */
  scope: string;
  metrics: Metrics;
  /**
   * Accept `?access_token=` as well as the header (RFC 6750 §2.3). Only for read-only GET routes:
   * a browser's EventSource cannot set headers.
   */
  allowQueryToken?: boolean;
}

const principals = new WeakMap<FastifyRequest, Principal>();

/** The principal of an authenticated request (set by the hook of `bearerAuth`). */
export function principalOf(req: FastifyRequest): Principal | undefined {
  return principals.get(req);
}

/** Whether a principal may act for a lane (its own name, or `*`). */
export function mayActFor(principal: Principal, lane: string): boolean {
  return principal.name === '*' || principal.name === lane;
}

function tokenOf(req: FastifyRequest, allowQuery: boolean): string | undefined {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const m = /^Bearer +(\S+)\s*$/i.exec(header);
    return m ? m[1] : undefined;
  }
  if (!allowQuery) return undefined;
  const q = (req.query as Record<string, unknown> | undefined)?.access_token;
  return typeof q === 'string' ? q : undefined;
}

function unauthorized(reply: FastifyReply, reason: 'missing' | 'invalid', metrics: Metrics): GatewayError {
  metrics.authFailures.inc({ reason });
  reply.header(
    'www-authenticate',
    reason === 'missing'
      ? 'Bearer realm="store-gateway"'
      : 'Bearer realm="store-gateway", error="invalid_token"',
  );
  return new GatewayError(
    'GW_ERR_UNAUTHORIZED',
    reason === 'missing' ? 'a bearer token is required' : 'the bearer token is not valid',
  );
}

/**
 * An `onRequest` hook: refuses the request with 401 (no or unknown token) or 403 (the token lacks
 * the scope) before the body is read. Add it to each route that needs it:
 * `app.post('/v1/x', { onRequest: bearerAuth({ tokens, scope: 'x', metrics }) }, handler)`.
 */
export function bearerAuth(opts: AuthOptions): onRequestAsyncHookHandler {
  const hook: onRequestAsyncHookHandler = async (req, reply) => {
    const token = tokenOf(req, opts.allowQueryToken === true);
    if (token === undefined) throw unauthorized(reply, 'missing', opts.metrics);
    const principal = opts.tokens?.lookup(token);
    if (!principal) throw unauthorized(reply, 'invalid', opts.metrics);
    if (principal.scopes && !principal.scopes.has(opts.scope)) {
      opts.metrics.authFailures.inc({ reason: 'scope' });
      throw new GatewayError('GW_ERR_FORBIDDEN', `this token may not use ${opts.scope}`);
    }
    principals.set(req, principal);
  };
  // The OpenAPI document and the API's checks read what a route's hook requires from here.
  return Object.assign(hook, { [BEARER]: { scope: opts.scope, query: opts.allowQueryToken === true } });
}

const BEARER = Symbol('store-gateway.bearer');

/** What a `bearerAuth` hook requires: its scope and whether `?access_token=` is accepted. */
export interface BearerRequirement {
  scope: string;
  query: boolean;
}

/** The requirement of a route's `onRequest` hooks, if one of them is a `bearerAuth` hook. */
export function bearerRequirement(hooks: unknown): BearerRequirement | undefined {
  const list = Array.isArray(hooks) ? hooks : [hooks];
  for (const h of list) {
    const req = (h as { [BEARER]?: BearerRequirement } | null | undefined)?.[BEARER];
    if (req) return req;
  }
  return undefined;
}

/**
 * Opens the tokens file of the config (`api.tokensFile`) for a feature that needs tokens. Throws
 * GW_ERR_TOKENS_FILE when none is configured or the file is bad, so the gateway does not start
 * with an endpoint nobody could use.
 */
export function openTokenFile(
  tokensFile: string | undefined,
  feature: string,
  deps: { log: Logger; clock: Clock },
): TokenFile {
  if (tokensFile === undefined) {
    throw new GatewayError('GW_ERR_TOKENS_FILE', `${feature} needs bearer tokens: set api.tokensFile`);
  }
  return new TokenFile(tokensFile, deps);
}

/**
 * An error handler for a plugin with write endpoints: fastify's body errors become catalogue errors
 * (413 GW_ERR_BODY_TOO_LARGE, 415 GW_ERR_MEDIA_TYPE, 400 GW_ERR_REQUEST_INVALID for unreadable
 * JSON) and go on to the API's own handler, which answers every GatewayError the same way.
 * Use: `app.setErrorHandler(writeEndpointErrors)` inside the plugin.
 */
export function writeEndpointErrors(err: FastifyError): never {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      throw new GatewayError('GW_ERR_BODY_TOO_LARGE');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      throw new GatewayError('GW_ERR_MEDIA_TYPE');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      // Not err.message: a JSON parse error quotes the body, which may hold personal data.
      throw new GatewayError('GW_ERR_REQUEST_INVALID', 'body is not valid JSON', {
        details: [{ path: '/', message: 'is not valid JSON' }],
      });
    default:
      throw err;
  }
}
