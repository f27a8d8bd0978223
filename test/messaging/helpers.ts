// Test helpers for the messaging suite: servers on 127.0.0.1 port 0, bounded waits, and a tiny
// TCP relay that can cut or blackhole the link between a client and a server.
import net from 'node:net'
import {
  type ClaimContext,
  type LiveSession,
  MessageServer,
  type MessageServerOptions,
  type SessionChange,
  type SessionSnapshot,
  type SessionStore,
} from '../../src/messaging/index.ts'

/** The frame transports a suite runs over: the same tests, tcp:// and ws://. */
export const TRANSPORTS = ['tcp', 'ws'] as const
export type TransportName = (typeof TRANSPORTS)[number]

export async function startServer(
  options: MessageServerOptions = {},
  transport: TransportName = 'tcp',
): Promise<{ server: MessageServer; url: string; port: number }> {
  const server = new MessageServer(options)
  if (transport === 'ws') {
    const address = (await server.listen({ port: 0, host: '127.0.0.1', websocket: { path: '/ws' } })) as {
      port: number
    }
    return { server, url: `ws://127.0.0.1:${address.port}/ws`, port: address.port }
  }
  const address = (await server.listen({ port: 0, host: '127.0.0.1' })) as { port: number }
  return { server, url: `tcp://127.0.0.1:${address.port}`, port: address.port }
}

/** Polls `check` every 5 ms until it is true; rejects after `ms` with `what`. */
export async function waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${ms} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

/** Resolves with the first emission of `event` on `target`, or rejects after `ms`. */
export function nextEvent<T = unknown>(
  // biome-ignore lint/suspicious/noExplicitAny: any emitter-like target
  target: { once(event: string, fn: (...args: any[]) => void): unknown },
  event: string,
  ms = 5000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`No "${event}" within ${ms} ms`)), ms)
    target.once(event, (value: T) => {
      clearTimeout(timer)
      resolve(value)
    })
  })
}

/**
 * A relay between clients and `targetPort`: `blackhole = true` silently drops bytes both ways; with
 * `dropCloses` as well, a side that closes during the blackhole is not passed on either.
 */
export class Relay {
  blackhole = false
  dropCloses = false
  /** Where new connections go (existing ones stay where they are). */
  targetPort = 0
  readonly port: number
  #server: net.Server
  #sockets = new Set<net.Socket>()

  private constructor(server: net.Server, port: number) {
    this.#server = server
    this.port = port
  }

  static async start(targetPort: number): Promise<Relay> {
    let relay: Relay | undefined
    const server = net.createServer((inbound) => {
      const outbound = net.connect({ host: '127.0.0.1', port: relay!.targetPort })
      for (const s of [inbound, outbound]) {
        relay!.#sockets.add(s)
        s.on('error', () => {})
        s.on('close', () => {
          relay!.#sockets.delete(s)
          // A full blackhole swallows the end of the connection too: the other side must find out by itself.
          if (relay!.blackhole && relay!.dropCloses) return
          inbound.destroy()
          outbound.destroy()
        })
      }
      inbound.on('data', (chunk) => relay!.blackhole || outbound.write(chunk))
      outbound.on('data', (chunk) => relay!.blackhole || inbound.write(chunk))
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    relay = new Relay(server, (server.address() as net.AddressInfo).port)
    relay.targetPort = targetPort
    return relay
  }

  get url(): string {
    return `tcp://127.0.0.1:${this.port}`
  }

  /** Cuts every relayed connection now. */
  cutAll(): void {
    for (const s of this.#sockets) s.destroy()
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy()
    await new Promise((r) => this.#server.close(r))
  }
}

/** A store of copies, like a Redis one: state only reaches it through open/update. */
export class CopyStore implements SessionStore {
  readonly tracksChanges = true
  readonly copies = new Map<string, SessionSnapshot>()
  updates = 0
  /** When true, updates are ignored: the copies go stale (a store that lost writes). */
  frozen = false
  /** What the server passed to open and claim, for assertions. */
  readonly opened: number[] = []
  readonly claims: (ClaimContext | undefined)[] = []

  open(session: LiveSession, retention: number): void {
    this.opened.push(retention)
    this.copies.set(session.id, structuredClone(session.snapshot()))
  }

  update(session: LiveSession, change: SessionChange): void {
    const copy = this.copies.get(session.id)
    if (copy === undefined || this.frozen) return
    this.updates++
    copy.unacknowledged = [...copy.unacknowledged, ...structuredClone(change.appended)].filter(
      (m) => m.seq > change.acked,
    )
    copy.lastReceived = change.lastReceived
    copy.nextSeq = change.nextSeq
  }

  detach(): void {}
  attach(): void {}

  async claim(id: string, context?: ClaimContext): Promise<SessionSnapshot | undefined> {
    this.claims.push(context)
    const copy = this.copies.get(id)
    return copy === undefined ? undefined : structuredClone(copy)
  }

  delete(id: string): void {
    this.copies.delete(id)
  }

  close(): void {}
}
