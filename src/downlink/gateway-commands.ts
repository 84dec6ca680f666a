import { Type } from '@sinclair/typebox';
import { GatewayError } from '../errors.js';
import { VERSION } from '../paths.js';
import { defineCommand } from './command.js';
import { commandsOf, runDeviceCommand } from './device-commands.js';
import { LOG_LEVELS, type LogLevel } from './supervisor.js';

const NoArgs = Type.Object({}, { additionalProperties: false });

export const ping = defineCommand({
  description: 'answers at once: proves the gateway receives commands and replies',
  args: NoArgs,
  run: (ctx) => ({ time: new Date(ctx.now).toISOString(), bootId: ctx.gateway.bootId, version: VERSION }),
});

export const getStatus = defineCommand({
  description: 'what /v1/status shows, plus the config file, its version and the log level',
  args: NoArgs,
  run: (ctx) => ({
    ...ctx.gateway.status(),
    config: { path: ctx.supervisor?.configPath ?? null, version: ctx.configVersion },
    logLevel: ctx.gateway.log.level,
  }),
});

export const listDevices = defineCommand({
  description: 'the devices of the running config, their state, and the device commands each offers',
  args: NoArgs,
  run: (ctx) => ({
    devices: ctx.gateway.status().devices.map((health) => ({
      ...health,
      commands: commandsOf(ctx.gateway.driver(health.id)),
    })),
  }),
});

export const setLogLevel = defineCommand({
  description: 'changes the log level of the whole process until the next restart or config change',
  args: Type.Object(
    { level: Type.Unsafe<LogLevel>({ type: 'string', enum: [...LOG_LEVELS] }) },
    { additionalProperties: false },
  ),
  run: (ctx, args) => {
    const root = ctx.supervisor;
    let previous: string;
    if (root) previous = root.setLogLevel(args.level);
    else {
      previous = ctx.gateway.log.level;
      ctx.gateway.log.level = args.level;
    }
    return { level: args.level, previous };
  },
});

export const rebirth = defineCommand({
  description: 'publishes the birth message (retained state "online") again',
  args: NoArgs,
  run: (ctx) => {
    const uplink = ctx.gateway.uplink;
    if (!uplink.isConnected) throw new GatewayError('GW_ERR_COMMAND_FAILED', 'not connected to the broker');
    uplink.rebirth();
    return { birth: uplink.status().birth };
  },
});

export const deviceCommand = defineCommand({
  description: 'runs a command on one device whose driver offers it (a scanner beep, enable, disable)',
  args: Type.Object(
    {
      device: Type.String({ minLength: 1, maxLength: 64 }),
      command: Type.String({ minLength: 1, maxLength: 64 }),
      args: Type.Optional(Type.Unknown()),
    },
    { additionalProperties: false },
  ),
  run: async (ctx, args) => ({
    device: args.device,
    command: args.command,
    result:
      (await runDeviceCommand((id) => ctx.gateway.driver(id), args, ctx.settings.deviceTimeoutMs)) ?? null,
  }),
});
