/**
 * A TCP proxy on 127.0.0.1 between one gateway instance and PostgreSQL, so a
 * test can cut that instance's connections and restore them while the other
 * instances carry on. cut('all') drops every connection and refuses new ones
 * (the database is gone for this instance); cut('feed') drops only the
 * routing feed's LISTEN connection (recognised by the application_name in
 * PostgreSQL's startup packet) and refuses new ones: queries still work, but
 * no notification arrives, the partition the fencing exists for.
 */
import net, { type AddressInfo, type Socket } from 'node:net';

export type CutMode = 'all' | 'feed';

export interface TcpProxy {
  port: number;
  cut(mode: CutMode): void;
  restore(): void;
  close(): Promise<void>;
  /** Connections refused or dropped while cut. */
  readonly dropped: number;
}

const FEED_APP = Buffer.from('switchboard-feed');

export async function tcpProxy(targetPort: number): Promise<TcpProxy> {
  let mode: CutMode | null = null;
  let dropped = 0;
  const pairs = new Set<{ client: Socket; server: Socket; feed: boolean }>();
  const server = net.createServer((client) => {
    client.on('error', () => {});
    if (mode === 'all') {
      dropped++;
      client.destroy();
      return;
    }
    // The first packet is PostgreSQL's startup message: it names the application.
    client.once('data', (first: Buffer) => {
      const feed = first.includes(FEED_APP);
      if (mode === 'feed' && feed) {
        dropped++;
        client.destroy();
        return;
      }
      const upstream = net.connect(targetPort, '127.0.0.1');
      const pair = { client, server: upstream, feed };
      pairs.add(pair);
      upstream.on('error', () => client.destroy());
      client.on('close', () => {
        pairs.delete(pair);
        upstream.destroy();
      });
      upstream.on('close', () => client.destroy());
      upstream.write(first);
      client.pipe(upstream);
      upstream.pipe(client);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    get dropped() {
      return dropped;
    },
    cut(m) {
      mode = m;
      for (const p of [...pairs]) {
        if (m === 'all' || p.feed) {
          dropped++;
          p.client.destroy();
          p.server.destroy();
        }
      }
    },
    restore() {
      mode = null;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const p of pairs) {
          p.client.destroy();
          p.server.destroy();
        }
        server.close(() => r());
      }),
  };
}
