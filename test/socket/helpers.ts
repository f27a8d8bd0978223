// Shared plumbing for the socket tests: raw net peers on 127.0.0.1 port 0, a resource list closed in
// after(), and a deadline so no test can hang the run.
import { once } from 'node:events'
import net from 'node:net'
import { AsyncServer, AsyncSocket } from '../../src/socket/index.ts'

/** Things to close at the end of a test file. */
export class Resources {
  #closers: (() => unknown)[] = []

  add<T>(value: T, close: (value: T) => unknown): T {
    this.#closers.push(() => close(value))
    return value
  }

  socket(socket: AsyncSocket): AsyncSocket {
    return this.add(socket, (s) => s.destroy())
  }

  async closeAll(): Promise<void> {
    const closers = this.#closers.reverse()
    this.#closers = []
    for (const close of closers) await close()
  }
}

/** A plain net server whose accepted sockets go to `onSocket`; closed (with its sockets) by `resources`. */
export async function rawServer(
  resources: Resources,
  onSocket: (socket: net.Socket) => void,
): Promise<number> {
  const sockets = new Set<net.Socket>()
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    onSocket(socket)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  resources.add(server, (s) => {
    for (const socket of sockets) socket.destroy()
    return new Promise((resolve) => s.close(resolve))
  })
  return (server.address() as net.AddressInfo).port
}

/** A connected pair: an AsyncSocket client and the raw net socket the server accepted. */
export async function pairWithRaw(
  resources: Resources,
  options: Partial<Parameters<typeof AsyncSocket.connect>[0]> = {},
): Promise<{ client: AsyncSocket; peer: net.Socket }> {
  let accepted!: (socket: net.Socket) => void
  const peer = new Promise<net.Socket>((resolve) => {
    accepted = resolve
  })
  const port = await rawServer(resources, (socket) => accepted(socket))
  const client = resources.socket(await AsyncSocket.connect({ host: '127.0.0.1', port, ...options }))
  return { client, peer: await peer }
}

/** A connected pair the other way round: the AsyncSocket an AsyncServer accepted, and a raw net client. */
export async function acceptedWithRaw(
  resources: Resources,
  options: Partial<Parameters<typeof AsyncServer.listen>[0]> = {},
): Promise<{ client: AsyncSocket; peer: net.Socket }> {
  const accepted = Promise.withResolvers<AsyncSocket>()
  const server = resources.add(
    await AsyncServer.listen({ port: 0, ...options }, (socket) => accepted.resolve(socket)),
    (s) => s.close(),
  )
  const peer = resources.add(net.connect({ host: '127.0.0.1', port: server.port }), (s) => s.destroy())
  peer.on('error', () => {})
  await once(peer, 'connect')
  return { client: resources.socket(await within(accepted.promise, 5000, 'accept')), peer }
}

/** A pair whose AsyncSocket wraps a net.Socket made by hand (it reads through 'data' events). */
export async function wrappedWithRaw(
  resources: Resources,
  options: Parameters<typeof AsyncSocket.wrap>[1] = {},
): Promise<{ client: AsyncSocket; peer: net.Socket }> {
  const accepted = Promise.withResolvers<net.Socket>()
  const port = await rawServer(resources, (socket) => accepted.resolve(socket))
  const own = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true })
  await once(own, 'connect')
  return { client: resources.socket(AsyncSocket.wrap(own, options)), peer: await accepted.promise }
}

/** Rejects if `promise` has not settled within `ms` (a test bug, never the behaviour under test). */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms)
  })
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer))
}

/** A flag that turns true once `promise` settles (either way); the promise's rejection is handled. */
export function track(promise: Promise<unknown>): { settled: boolean } {
  const state = { settled: false }
  promise.then(
    () => {
      state.settled = true
    },
    () => {
      state.settled = true
    },
  )
  return state
}

/** Waits for one turn of the event loop, so I/O callbacks can run. */
export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

/** Reads everything `peer` receives until it has `total` bytes, each chunk within `ms`. */
export async function collect(peer: net.Socket, total: number, ms: number): Promise<Buffer> {
  const parts: Buffer[] = []
  let size = 0
  peer.resume()
  while (size < total) {
    const [chunk] = (await within(once(peer, 'data'), ms, 'peer data')) as [Buffer]
    parts.push(chunk)
    size += chunk.length
  }
  return Buffer.concat(parts)
}
