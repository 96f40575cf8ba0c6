/**
 * xmpp.js 0.13/0.14 detach the XML parser when the stream closes but keep the
 * socket's data listener until the socket closes; bytes arriving in between
 * (e.g. the server's last stanzas racing our `</stream:stream>`) hit
 * `this.parser.write` on null and throw from a socket event, which would
 * crash the process. Drop such bytes instead: the stream is over.
 * Must be applied before the first start (xmpp.js binds the handler then).
 */
interface HasOnData {
  _onData(data: Buffer): void;
  parser: unknown;
}

export function guardLateData<T>(entity: T): T {
  const target = entity as unknown as HasOnData;
  const original = target._onData;
  target._onData = function guarded(this: HasOnData, data: Buffer) {
    if (this.parser) original.call(this, data);
  };
  return entity;
}
