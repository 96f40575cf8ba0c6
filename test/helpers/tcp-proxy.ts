/**
 * A TCP proxy between the component and ejabberd's component listener, so a
 * test can cut the component's link (a network partition) without touching
 * ejabberd or the component: `cut()` destroys every connection and refuses
 * new ones until `restore()`.
 */
import { connect, createServer, type Server, type Socket } from "node:net";

export class TcpProxy {
  readonly #sockets = new Set<Socket>();
  #open = true;
  connections = 0;

  private constructor(
    readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetHost: string, targetPort: number): Promise<TcpProxy> {
    let proxy!: TcpProxy;
    const server = createServer((client) => {
      if (!proxy.#open) {
        client.destroy();
        return;
      }
      proxy.connections++;
      const upstream = connect(targetPort, targetHost);
      for (const socket of [client, upstream]) {
        proxy.#sockets.add(socket);
        socket.on("close", () => proxy.#sockets.delete(socket));
        socket.on("error", () => {});
      }
      client.pipe(upstream);
      upstream.pipe(client);
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    proxy = new TcpProxy(server, (server.address() as { port: number }).port);
    return proxy;
  }

  get service(): string {
    return `xmpp://127.0.0.1:${this.port}`;
  }

  cut(): void {
    this.#open = false;
    for (const socket of this.#sockets) socket.destroy();
  }

  restore(): void {
    this.#open = true;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
