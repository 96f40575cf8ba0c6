// xmpp.js 0.14 plugin packages jabmon assembles its client from (src/xmpp/client.ts).
// They ship no types; these cover what the agent uses.
declare module "@xmpp/tcp" {
  export default function tcp(deps: { entity: unknown }): unknown;
}
declare module "@xmpp/tls" {
  export default function tls(deps: { entity: unknown }): unknown;
}
declare module "@xmpp/starttls" {
  export default function starttls(deps: { streamFeatures: unknown }): unknown;
}
declare module "@xmpp/iq/caller.js" {
  export default function iqCaller(deps: { middleware: unknown; entity: unknown }): any;
}
declare module "@xmpp/iq/callee.js" {
  export default function iqCallee(deps: { middleware: unknown; entity: unknown }): any;
}
declare module "@xmpp/sasl-scram-sha-1" {
  export default function scram(factory: unknown): void;
}
declare module "@xmpp/sasl-plain" {
  export default function plain(factory: unknown): void;
}
declare module "saslmechanisms" {
  const Factory: new () => unknown;
  export default Factory;
}
