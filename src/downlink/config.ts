import { Type } from '@sinclair/typebox';
import { Section } from '../config/types.js';

export const CommandsConfig = Section(
  {
    enabled: Type.Boolean({
      default: true,
      description: 'accept commands on stores/{store}/gateways/{gateway}/commands/{name} (docs/COMMANDS.md)',
    }),
    dbPath: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'SQLite file of the command replies kept for replay; default commands.db beside the buffer',
      }),
    ),
    replayHours: Type.Integer({
      minimum: 1,
      maximum: 720,
      default: 24,
      description:
        'how long a reply is kept: the same command id within this time gets it back without a rerun',
    }),
    maxQueued: Type.Integer({
      minimum: 1,
      maximum: 10000,
      default: 100,
      description: 'commands waiting to run (they run one at a time); more are refused as busy',
    }),
    confirmSec: Type.Integer({
      minimum: 1,
      maximum: 600,
      default: 30,
      description:
        'apply-config and reload-config roll back unless the new config connects to the broker within this time',
    }),
    deviceTimeoutMs: Type.Integer({
      minimum: 100,
      maximum: 120000,
      default: 10000,
      description: 'longest wait for a device command (device-command) to finish',
    }),
  },
  'downlink commands from central (docs/COMMANDS.md)',
);
