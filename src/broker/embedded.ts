import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';

export interface EmbeddedBroker {
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * An in-process MQTT 3.1.1 broker (aedes) for demo mode and tests: nothing to install, nothing
 * persisted. Production gateways talk to the central broker instead.
 */
export async function startEmbeddedBroker(
  opts: { host?: string; port?: number } = {},
): Promise<EmbeddedBroker> {
  const host = opts.host ?? '127.0.0.1';
  const broker = await Aedes.createBroker();
  const server: Server = createServer(broker.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `mqtt://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        broker.close(() => {});
        // Drop live client sockets so server.close() can finish.
        for (const client of Object.values(
          (broker as unknown as { clients: Record<string, { close(): void }> }).clients,
        )) {
          client.close();
        }
      }),
  };
}
