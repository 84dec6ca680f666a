import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { rootPath } from '../../src/paths.js';

/**
 * A pseudo-terminal published at a stable path, standing in for a serial device. The gateway opens
 * `linkPath` with the real serialport binding. `close()` is an unplug: the link disappears and the
 * gateway's open port sees a hang-up. Needs python3 (already required to build the native modules).
 */
export class PtyPort extends EventEmitter<{ data: [Buffer]; exit: [] }> {
  private constructor(
    readonly linkPath: string,
    readonly devicePath: string,
    private readonly child: ChildProcessByStdio<Writable, Readable, Readable>,
  ) {
    super();
    child.stdout.on('data', (chunk: Buffer) => this.emit('data', chunk));
    child.on('exit', () => this.emit('exit'));
  }

  static open(linkPath: string): Promise<PtyPort> {
    const child = spawn('python3', [rootPath('simulators', 'pty', 'pty-helper.py'), linkPath], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    return new Promise((resolve, reject) => {
      let err = '';
      const onExit = (code: number | null) => reject(new Error(`pty helper exited (${code}): ${err.trim()}`));
      child.once('error', reject);
      child.once('exit', onExit);
      child.stderr.on('data', (chunk: Buffer) => {
        err += chunk.toString();
        const m = /READY (\S+)\n/.exec(err);
        if (m) {
          child.off('exit', onExit);
          child.stderr.removeAllListeners('data');
          resolve(new PtyPort(linkPath, m[1] as string, child));
        }
      });
    });
  }

  get open(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Sends bytes to the device side; resolves once the helper has taken them. */
  write(data: Buffer | string): Promise<void> {
    return new Promise((resolve, reject) => {
      if (!this.open) return reject(new Error(`${this.linkPath} is unplugged`));
      this.child.stdin.write(data, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Unplugs: the link is removed and the PTY closed. */
  close(): Promise<void> {
    if (!this.open) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.kill('SIGTERM');
    });
  }
}
