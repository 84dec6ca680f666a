import { createRequire } from 'node:module';
import type { Logger } from '../logger.js';

/*
 * sd_notify(3) without libsystemd: one datagram per message to the AF_UNIX socket named by
 * $NOTIFY_SOCKET, text lines "KEY=value".
 *
 * Node has no AF_UNIX datagram sockets, so the datagrams go through `unix-dgram` (a small native
 * module, node-gyp, no library beyond libc). The alternatives were worse: `sd-notify` links
 * libsystemd, so every store box would need libsystemd-dev to build it, and it cannot receive,
 * so the tests would need a second module anyway; spawning `systemd-notify` sends from another
 * PID, which systemd only accepts with NotifyAccess=all, and a message can still be attributed to
 * the wrong process when that helper exits first. The module is loaded on first use only, and
 * everything degrades to a no-op (with one log line) when $NOTIFY_SOCKET is unset or the module
 * cannot be loaded: the gateway then runs exactly as it does without systemd.
 */

/** Where $NOTIFY_SOCKET points: a path, or (leading '@') a name in the abstract namespace. */
export type NotifyAddress = { kind: 'path'; path: string } | { kind: 'abstract'; name: string };

/**
 * Parses $NOTIFY_SOCKET as sd_notify(3) does: an absolute path, or '@' for an abstract socket
 * (whose address starts with a NUL byte instead). Anything else (relative paths, vsock addresses
 * of newer systemd versions) is not ours to use.
 */
export function parseNotifySocket(value: string | undefined): NotifyAddress | null {
  if (!value) return null;
  if (value.startsWith('/')) return { kind: 'path', path: value };
  if (value.startsWith('@') && value.length > 1) return { kind: 'abstract', name: `\0${value.slice(1)}` };
  return null;
}

/** Formats sd_notify fields ("READY=1", "STATUS=…") as one datagram; values are kept on one line. */
export function formatNotifyMessage(fields: Record<string, string | number>): string {
  return Object.entries(fields)
    .map(([k, v]) => `${k}=${String(v).replace(/[\r\n]+/g, ' ')}`)
    .join('\n');
}

/** Parses a datagram back into fields (the tests' receiving side, and `formatNotifyMessage`'s inverse). */
export function parseNotifyMessage(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) fields[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return fields;
}

/** The slice of unix-dgram's API used here. */
export interface UnixDgramSocket {
  on(event: 'message', listener: (buf: Buffer) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  bind(path: string): void;
  send(buf: Buffer, offset: number, length: number, path: string, cb?: (err?: Error) => void): void;
  close(): void;
}

export interface UnixDgramModule {
  createSocket(type: 'unix_dgram', listener?: (buf: Buffer) => void): UnixDgramSocket;
}

let loaded: { mod: UnixDgramModule } | { error: Error } | undefined;

/** Loads the native module once; the error is kept, so a missing build is reported once. */
export function loadUnixDgram(): UnixDgramModule {
  if (!loaded) {
    try {
      loaded = { mod: createRequire(import.meta.url)('unix-dgram') as UnixDgramModule };
    } catch (err) {
      loaded = { error: err as Error };
    }
  }
  if ('error' in loaded) throw loaded.error;
  return loaded.mod;
}

/** Sends sd_notify messages; a disabled notifier (not under systemd) accepts and drops them. */
export interface Notifier {
  /** True when messages reach a service manager. */
  readonly enabled: boolean;
  /** Sends one datagram; returns false (and logs once) when it could not be sent. */
  notify(fields: Record<string, string | number>): boolean;
}

export interface NotifierOptions {
  log: Logger;
  env?: NodeJS.ProcessEnv;
  /** Injected by unit tests that check the no-op paths; defaults to the real module. */
  load?: () => UnixDgramModule;
}

const DISABLED: Notifier = { enabled: false, notify: () => false };

/**
 * Opens the notifier for this process from $NOTIFY_SOCKET. The variable is removed from the
 * environment afterwards (as sd_notify's `unset_environment` does), so a child process never
 * reports to systemd in the gateway's name.
 */
export function openNotifier(opts: NotifierOptions): Notifier {
  const env = opts.env ?? process.env;
  const log = opts.log.child({ component: 'systemd' });
  const raw = env.NOTIFY_SOCKET;
  delete env.NOTIFY_SOCKET;
  const address = parseNotifySocket(raw);
  if (!address) {
    log.info(
      raw ? { notifySocket: raw } : {},
      raw
        ? 'NOTIFY_SOCKET is not a path or an abstract socket name: systemd notifications are off'
        : 'not started by systemd (no NOTIFY_SOCKET): readiness and watchdog notifications are off',
    );
    return DISABLED;
  }
  if (address.kind === 'abstract') {
    // unix-dgram copies the address with strncpy, so a name starting with NUL cannot be expressed.
    // systemd itself always passes a path (/run/systemd/notify); only other managers use '@'.
    log.warn(
      { notifySocket: raw },
      'NOTIFY_SOCKET names an abstract socket, which this build cannot address: systemd notifications are off',
    );
    return DISABLED;
  }
  let mod: UnixDgramModule;
  try {
    mod = (opts.load ?? loadUnixDgram)();
  } catch (err) {
    log.error(
      { err },
      'the unix-dgram module cannot be loaded (run npm ci): systemd notifications are off, so a Type=notify unit will time out',
    );
    return DISABLED;
  }
  let failing = false;
  return {
    enabled: true,
    notify(fields) {
      const buf = Buffer.from(formatNotifyMessage(fields));
      let error: Error | undefined;
      try {
        // One socket per message: nothing stays open to keep the event loop alive at exit.
        const socket = mod.createSocket('unix_dgram');
        socket.on('error', (err) => {
          error = err;
        });
        try {
          socket.send(buf, 0, buf.length, address.path, (err) => {
            error ??= err;
          });
        } finally {
          socket.close();
        }
      } catch (err) {
        error = err as Error;
      }
      if (error) {
        if (!failing) log.warn({ err: error, notifySocket: address.path }, 'systemd notification not sent');
        failing = true;
        return false;
      }
      failing = false;
      return true;
    },
  };
}
