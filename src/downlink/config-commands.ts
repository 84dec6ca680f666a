import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { Type } from '@sinclair/typebox';
import { parseConfigText, parseYaml } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { GatewayError } from '../errors.js';
import type { Gateway } from '../gateway.js';
import type { SchemaIssue } from '../schema/ajv.js';
import { type CommandContext, defineCommand } from './command.js';
import {
  CONFIG_VERSION_PATTERN,
  composeConfigText,
  configVersionOf,
  replaceConfigFile,
} from './config-file.js';
import { waitConnected } from './connected.js';
import type { GatewaySupervisor, RestartOptions } from './supervisor.js';

const MAX_CONFIG_CHARS = 1024 * 1024;

function supervisorWithFile(ctx: CommandContext): { supervisor: GatewaySupervisor; path: string } {
  const supervisor = ctx.supervisor;
  const path = supervisor?.configPath;
  if (!supervisor || !path) {
    throw new GatewayError(
      'GW_ERR_COMMAND_UNSUPPORTED',
      'this gateway was not started from a config file (store-gateway run --config FILE)',
    );
  }
  return { supervisor, path };
}

/** A command may not move the gateway to another store or gateway id: it would leave its own command topic. */
function identityIssues(doc: unknown, running: Config): SchemaIssue[] {
  const d = doc as { store?: { id?: unknown }; gateway?: { id?: unknown } } | undefined;
  const issues: SchemaIssue[] = [];
  if (d?.store?.id !== undefined && d.store.id !== running.store.id) {
    issues.push({
      path: '/store/id',
      message: `must stay "${running.store.id}": a command cannot change it`,
    });
  }
  if (d?.gateway?.id !== undefined && d.gateway.id !== running.gateway.id) {
    issues.push({
      path: '/gateway/id',
      message: `must stay "${running.gateway.id}": a command cannot change it`,
    });
  }
  return issues;
}

/** Validates a config file's text exactly as `store-gateway config check` does, plus the identity rule. */
function checkConfigText(text: string, running: Config, what: string): Config {
  const result = parseConfigText(text);
  const issues = [...(result.ok ? [] : result.issues), ...identityIssues(parseYaml(text).value, running)];
  if (result.ok && issues.length === 0) return result.config;
  throw new GatewayError(
    'GW_ERR_CONFIG_INVALID',
    `${what} is invalid (${issues.length} problem${issues.length === 1 ? '' : 's'}); nothing was changed`,
    { details: { issues } },
  );
}

/** Key-order independent equality of two validated configs. */
function sameConfig(a: Config, b: Config): boolean {
  const canon = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canon)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, canon((v as Record<string, unknown>)[k])]),
          )
        : v;
  return JSON.stringify(canon(a)) === JSON.stringify(canon(b));
}

async function restartWith(
  ctx: CommandContext,
  supervisor: GatewaySupervisor,
  config: Config,
  opts: Omit<RestartOptions, 'verify'>,
): Promise<void> {
  ctx.restarting();
  const outcome = await supervisor.restart(config, {
    ...opts,
    verify: (gateway: Gateway) => waitConnected(gateway.uplink, ctx.settings.confirmSec * 1000),
  });
  if (outcome.ok) return;
  throw new GatewayError(
    'GW_ERR_CONFIG_ROLLED_BACK',
    `the gateway could not run with the new config (${outcome.error}); ${
      outcome.rolledBack ? 'it runs with the previous config again' : 'the previous config failed too'
    }`,
    { details: { reason: outcome.error, rolledBack: outcome.rolledBack, runningVersion: ctx.configVersion } },
  );
}

export const reloadConfig = defineCommand({
  description: 're-reads the config file and restarts the gateway with it if it changed',
  args: Type.Object({}, { additionalProperties: false }),
  run: async (ctx) => {
    const { supervisor, path } = supervisorWithFile(ctx);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new GatewayError('GW_ERR_CONFIG_READ', `cannot read ${path}: ${(err as Error).message}`);
    }
    const config = checkConfigText(text, ctx.gateway.config, path);
    const version = configVersionOf(text);
    if (sameConfig(config, ctx.gateway.config)) return { restarted: false, version };
    await restartWith(ctx, supervisor, config, { reason: `reload-config ${ctx.commandId}` });
    return { restarted: true, version };
  },
});

export const applyConfig = defineCommand({
  description: 'validates a config document, writes it to the config file and restarts with it',
  args: Type.Object(
    {
      version: Type.String({ pattern: CONFIG_VERSION_PATTERN }),
      config: Type.Union([
        Type.Object({}, { additionalProperties: true }),
        Type.String({ minLength: 1, maxLength: MAX_CONFIG_CHARS }),
      ]),
      ifVersion: Type.Optional(Type.Union([Type.String({ maxLength: 64 }), Type.Null()])),
    },
    { additionalProperties: false },
  ),
  run: async (ctx, args) => {
    const { supervisor, path } = supervisorWithFile(ctx);
    const previousName = `${basename(path)}.prev`;
    const time = new Date(ctx.now).toISOString();
    const text = composeConfigText(args.config, {
      version: args.version,
      commandId: ctx.commandId,
      time,
      previousName,
    });
    const config = checkConfigText(text, ctx.gateway.config, 'the config');
    if (args.ifVersion !== undefined && args.ifVersion !== ctx.configVersion) {
      throw new GatewayError(
        'GW_ERR_CONFIG_CONFLICT',
        `the running config is version ${JSON.stringify(ctx.configVersion)}, not ${JSON.stringify(args.ifVersion)}; nothing was changed`,
        { details: { runningVersion: ctx.configVersion } },
      );
    }
    let replaced: ReturnType<typeof replaceConfigFile>;
    try {
      replaced = replaceConfigFile(path, text);
    } catch (err) {
      throw new GatewayError('GW_ERR_CONFIG_WRITE', `cannot write ${path}: ${(err as Error).message}`);
    }
    const result = {
      version: args.version,
      previousVersion: ctx.configVersion,
      path,
      previousPath: replaced.previousPath,
    };
    if (sameConfig(config, ctx.gateway.config)) {
      ctx.setConfigVersion(args.version);
      return { ...result, restarted: false };
    }
    await restartWith(ctx, supervisor, config, {
      reason: `apply-config ${ctx.commandId} version ${args.version}`,
      beforeRollback: () => replaced.restore(),
    });
    return { ...result, restarted: true };
  },
});
