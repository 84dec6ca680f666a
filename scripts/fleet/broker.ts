import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { MOSQUITTO_BIN } from '../../tests/helpers/mosquitto.js';
import { freePort, portOpen } from '../../tests/helpers/ports.js';

export interface FleetBrokerOptions {
  /** Directory for the config and the persistence file. */
  dir: string;
  /**
   * Mosquitto's `max_inflight_messages`: the Receive Maximum it announces, which caps each
   * gateway's in-flight window (the gateway uses one less). 20 is Mosquitto's default.
   */
  receiveMaximum?: number;
}

/**
 * One Mosquitto for a fleet run, on a free port, with persistence as in production and `$SYS`
 * published every second (the run reads its message counters there). Unlike tests/helpers/mosquitto.ts it
 * exposes the broker's pid, so the run can read its CPU time and RSS from /proc.
 */
export class FleetBroker {
  log = '';
  private exited: Promise<void>;

  private constructor(
    readonly port: number,
    private readonly proc: ChildProcess,
  ) {
    proc.stderr?.on('data', (d: Buffer) => {
      this.log = (this.log + d.toString()).slice(-20_000);
    });
    this.exited = new Promise((resolve) => proc.once('exit', () => resolve()));
  }

  static async start(opts: FleetBrokerOptions): Promise<FleetBroker> {
    if (!existsSync(MOSQUITTO_BIN)) {
      throw new Error(`${MOSQUITTO_BIN} not found: install Debian's mosquitto package`);
    }
    const port = await freePort();
    const conf = join(opts.dir, 'mosquitto.conf');
    writeFileSync(
      conf,
      [
        `listener ${port} 127.0.0.1`,
        'allow_anonymous true',
        `user ${userInfo().username}`,
        'max_connections -1',
        `max_inflight_messages ${opts.receiveMaximum ?? 20}`,
        // A full queue drops QoS 1 messages for that session: a consumer that falls behind must not
        // lose events in a run that counts them (a production broker needs a bound sized for it).
        'max_queued_messages 0',
        'sys_interval 1',
        'persistence true',
        `persistence_location ${opts.dir}/`,
        'log_dest stderr',
        'log_type error',
        'log_type warning',
        '',
      ].join('\n'),
    );
    const proc = spawn(MOSQUITTO_BIN, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    const broker = new FleetBroker(port, proc);
    const deadline = Date.now() + 10_000;
    while (!(await portOpen(port))) {
      if (!broker.running) throw new Error(`mosquitto exited: ${broker.log}`);
      if (Date.now() > deadline) {
        await broker.stop();
        throw new Error(`mosquitto did not listen on ${port}: ${broker.log}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    return broker;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.proc.pid as number;
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** SIGTERM, then SIGKILL if it has not exited within 5 s. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(timer);
  }
}
