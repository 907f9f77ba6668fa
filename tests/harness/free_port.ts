/**
 * Owns {@linkcode freePort}: asks the kernel for a TCP port on 127.0.0.1 that
 * is free right now. Another process may take it before the caller binds it,
 * so callers that can retry should.
 *
 * @module
 */

/** Returns a TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}
