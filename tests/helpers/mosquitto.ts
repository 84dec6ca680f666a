import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort, portOpen } from './ports.js';
import { tmpDir } from './tmp.js';

export const MOSQUITTO_BIN = process.env.MOSQUITTO_BIN ?? '/usr/sbin/mosquitto';

/**
 * A real Mosquitto broker (MQTT 5 and 3.1.1) on a free port, with persistence in a temp dir so a
 * stopped-and-restarted broker keeps persistent sessions and their queued messages, as a production
 * broker does.
 */
export class Mosquitto {
  private proc: ChildProcess | undefined;
  private readonly dir = tmpDir('sg-mosquitto-');
  log = '';

  private constructor(
    readonly port: number,
    private readonly extraConfig: string,
    /** The second listener's port (0 without one). */
    readonly tlsPort = 0,
    private readonly tlsListener?: (port: number) => string,
  ) {}

  /**
   * `tlsListener` adds a second listener: it returns that listener's config (written after
   * everything else) for a free port of its own, reachable at `tlsUrl`.
   */
  static async start(
    opts: { extraConfig?: string; tlsListener?: (port: number) => string } = {},
  ): Promise<Mosquitto> {
    if (!existsSync(MOSQUITTO_BIN)) {
      throw new Error(`${MOSQUITTO_BIN} not found: install Debian's mosquitto package (.ci/run does)`);
    }
    const port = await freePort();
    let tlsPort = 0;
    while (opts.tlsListener && (tlsPort === 0 || tlsPort === port)) tlsPort = await freePort();
    const broker = new Mosquitto(port, opts.extraConfig ?? '', tlsPort, opts.tlsListener);
    await broker.launch();
    return broker;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  get tlsUrl(): string {
    return `mqtts://127.0.0.1:${this.tlsPort}`;
  }

  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  private async launch(): Promise<void> {
    const conf = join(this.dir.path, 'mosquitto.conf');
    writeFileSync(
      conf,
      [
        `listener ${this.port} 127.0.0.1`,
        'allow_anonymous true',
        // Started as root, Mosquitto would switch to its own user and could not write here.
        `user ${userInfo().username}`,
        // No receive-maximum cap: the gateway's own window governs (it honours one if set).
        'max_inflight_messages 0',
        'max_queued_messages 0',
        'persistence true',
        `persistence_location ${this.dir.path}/`,
        'log_dest stderr',
        'log_type error',
        'log_type warning',
        this.extraConfig,
        this.tlsListener?.(this.tlsPort) ?? '',
        '',
      ].join('\n'),
    );
    const proc = spawn(MOSQUITTO_BIN, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr?.on('data', (d: Buffer) => {
      this.log += d.toString();
    });
    this.proc = proc;
    const deadline = Date.now() + 10_000;
    while (!(await portOpen(this.port)) || (this.tlsPort > 0 && !(await portOpen(this.tlsPort)))) {
      if (!this.running) throw new Error(`mosquitto exited: ${this.log}`);
      if (Date.now() > deadline) throw new Error(`mosquitto did not listen on ${this.port}: ${this.log}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  private async signal(sig: NodeJS.Signals): Promise<void> {
    const proc = this.proc;
    if (!proc || !this.running) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill(sig);
    });
    this.proc = undefined;
  }

  /** Clean stop: Mosquitto saves its persistence file (sessions, queued messages). */
  stop(): Promise<void> {
    return this.signal('SIGTERM');
  }

  /** Hard kill: whatever the broker had not saved is gone. */
  kill(): Promise<void> {
    return this.signal('SIGKILL');
  }

  /** Starts again on the same port. */
  async restart(): Promise<void> {
    if (this.running) await this.stop();
    await this.launch();
  }

  async dispose(): Promise<void> {
    await this.kill();
    this.dir.cleanup();
  }
}
