/**
 * A private ejabberd cluster on one machine, for the tests and the demo of
 * scale-out (docs/deploy.md, "Scale-out"): N Erlang nodes with their own node
 * names, ports and spool directories, joined with `ejabberdctl join_cluster`.
 * Accounts, rosters and routes are shared by Mnesia; each node has its own
 * c2s and component listeners, so agents and components can attach to either.
 */
import { PrivateEjabberd } from "./ejabberd.js";
import { freePort } from "./ports.js";
import type { TlsFiles } from "./tls.js";

export interface ClusterOptions {
  name: string;
  nodes: number;
  componentPassword: string;
  maxOpenFiles?: number;
  /** One certificate for every node, so that clients moving between nodes trust them all. */
  tls?: TlsFiles | "none";
}

export class PrivateCluster {
  private constructor(readonly nodes: PrivateEjabberd[]) {}

  /** Writes every node's configuration; does not start them. */
  static async create(options: ClusterOptions): Promise<PrivateCluster> {
    const nodes: PrivateEjabberd[] = [];
    for (let n = 0; n < options.nodes; n++)
      nodes.push(
        await PrivateEjabberd.create({
          name: `${options.name}${n}`,
          c2sPort: await freePort(),
          componentPort: await freePort(),
          componentPassword: options.componentPassword,
          maxOpenFiles: options.maxOpenFiles,
          tls: options.tls,
        }),
      );
    return new PrivateCluster(nodes);
  }

  /** Starts every node and joins each to the first one. */
  async start(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.start()));
    const [first, ...others] = this.nodes as [PrivateEjabberd, ...PrivateEjabberd[]];
    for (const node of others) await node.ctl("join_cluster", first.nodeName);
  }

  /** The node names Mnesia sees as running, as `ejabberdctl list_cluster` prints them. */
  async members(): Promise<string[]> {
    const out = await (this.nodes[0] as PrivateEjabberd).ctl("list_cluster");
    return out
      .split("\n")
      .map((line) => line.trim())
      .filter(Boolean);
  }

  get c2sServices(): string[] {
    return this.nodes.map((node) => node.c2sService);
  }

  async destroy(): Promise<void> {
    // The joined nodes first: stopping the first node while others replicate from it is slower.
    for (const node of [...this.nodes].reverse()) await node.destroy().catch(() => undefined);
  }
}
