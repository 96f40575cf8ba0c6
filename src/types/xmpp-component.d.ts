// @xmpp/component 0.13 ships no types; this covers what jabmon uses.
declare module "@xmpp/component" {
  import type { Element } from "ltx";
  interface IqCaller {
    request(element: Element, timeout?: number): Promise<Element>;
  }
  interface Middleware {
    use(fn: (ctx: any, next: () => Promise<unknown>) => unknown): void;
  }
  export interface Component {
    status: string;
    jid: { toString(): string } | null;
    middleware: Middleware;
    iqCaller: IqCaller;
    reconnect: { stop(): void };
    start(): Promise<unknown>;
    stop(): Promise<unknown>;
    send(element: Element): Promise<void>;
    on(event: string, listener: (...args: any[]) => void): this;
  }
  export function component(options: {
    service: string;
    domain: string;
    password: string;
  }): Component;
  export const xml: (
    name: string,
    attrs?: Record<string, unknown>,
    ...children: unknown[]
  ) => Element;
}
