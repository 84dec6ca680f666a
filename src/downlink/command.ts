import type { Static, TSchema } from '@sinclair/typebox';
import type { Config } from '../config/schema.js';
import type { Gateway } from '../gateway.js';
import type { Logger } from '../logger.js';
import type { GatewaySupervisor } from './supervisor.js';

/** What a command may use while it runs. */
export interface CommandContext {
  /** The gateway that received the command. */
  readonly gateway: Gateway;
  /** The process's lifecycle owner; undefined when the gateway was built without one. */
  readonly supervisor: GatewaySupervisor | undefined;
  readonly settings: Config['commands'];
  readonly commandId: string;
  /** When the command started to run (ms). */
  readonly now: number;
  /** The version in the running config file's header, read when the gateway started (null if none). */
  readonly configVersion: string | null;
  /** Records a new version of the running config (apply-config that did not need a restart). */
  setConfigVersion(version: string): void;
  readonly log: Logger;
  /** Declares that this command restarts the gateway: stopping the gateway must not wait for it. */
  restarting(): void;
}

/** One command: its args schema (validated before `run`), and what it does. */
export interface CommandDef<S extends TSchema = TSchema> {
  readonly description: string;
  readonly args: S;
  run(ctx: CommandContext, args: Static<S>): Promise<unknown> | unknown;
}

export const defineCommand = <S extends TSchema>(def: CommandDef<S>): CommandDef<S> => def;

export type CommandTable = Readonly<Record<string, CommandDef>>;
