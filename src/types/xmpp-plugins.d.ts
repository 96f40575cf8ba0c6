// xmpp.js 0.14 plugin packages jabmon assembles its client from (src/xmpp/client.ts).
// They ship no types; these cover what the agent uses.
declare module "@xmpp/tcp" {
  export default function tcp(deps: { entity: unknown }): unknown;
}
declare module "@xmpp/iq/caller.js" {
  export default function iqCaller(deps: { middleware: unknown; entity: unknown }): any;
}
declare module "@xmpp/iq/callee.js" {
  export default function iqCallee(deps: { middleware: unknown; entity: unknown }): any;
}
declare module "@xmpp/tls/lib/Connection.js" {
  const ConnectionTLS: any;
  export default ConnectionTLS;
}
declare module "@xmpp/tls/lib/Socket.js" {
  const Socket: any;
  export default Socket;
}
