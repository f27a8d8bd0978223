// wirekit's side of every messaging benchmark, in one place: the one-way sender and receiver, the
// request/response server and client, and the idle and broadcast servers and clients. Everything
// goes through the public MessageServer / MessageClient API of DESIGN.md §3, with default options
// unless a line here says otherwise.
import { MessageClient, MessageServer, type MessageServerOptions } from '../../src/messaging/index.ts'
import { jsonMessage } from './payload.ts'
import type { Heartbeat } from './servers.ts'

/**
 * Emits the one-way sender keeps awaiting their ack at once: a real producer's window, well under
 * the client outbox's default capacity (10,000 messages), so no send meets backpressure.
 */
export const WIREKIT_ONEWAY_WINDOW = 4096

export type Running = { port: number; close: () => Promise<void> }

/**
 * The idle and broadcast benchmarks open 10,000 clients, all from 127.0.0.1: as behind a proxy, the
 * connection caps (1,024 per address; 10,000 in all) are lifted so they measure memory, not refusals.
 */
const MANY_CLIENTS_ONE_ADDRESS: MessageServerOptions = {
  maxConnections: Number.POSITIVE_INFINITY,
  maxConnectionsPerAddress: Number.POSITIVE_INFINITY,
}

/** Path of the WebSocket endpoint when a benchmark server listens for ws:// clients. */
const WS_PATH = '/ws'

async function startServer(
  configure: (server: MessageServer) => void,
  options: MessageServerOptions = {},
  transport: 'tcp' | 'ws' = 'tcp',
): Promise<Running & { server: MessageServer }> {
  const server = new MessageServer(options)
  configure(server)
  const address = await server.listen({
    port: 0,
    host: '127.0.0.1',
    ...(transport === 'ws' ? { websocket: { path: WS_PATH } } : {}),
  })
  if (!('port' in address)) throw new Error('MessageServer did not listen on a TCP port')
  return { server, port: address.port, close: () => server.close({ drain: 0 }) }
}

function connect(port: number, transport: 'tcp' | 'ws' = 'tcp'): Promise<MessageClient> {
  const url = transport === 'ws' ? `ws://127.0.0.1:${port}${WS_PATH}` : `tcp://127.0.0.1:${port}`
  // A benchmark connection that drops is a failure to report, not something to hide by reconnecting.
  return MessageClient.connect(url, { reconnect: false })
}

/** Receiver of the one-way benchmark: counts every 'm' event's index. */
export function startWirekitOnewayReceiver(counter: { hit(i: number): void }): Promise<Running> {
  return startServer((server) => {
    server.on('connection', (peer) => {
      peer.on('m', (msg: { i: number }) => counter.hit(msg.i))
    })
  })
}

/** Sender of the one-way benchmark: `client.emit` with at most `window` emits awaiting their ack. */
export async function wirekitOnewaySender(port: number, window: number) {
  const client = await connect(port)
  let inFlight = 0
  let wake: (() => void) | null = null
  let failure: unknown = null
  const settled = (): void => {
    inFlight--
    // Refill by halves: waking on every ack would interleave one emit per ack.
    if (wake && inFlight <= window / 2) {
      wake()
      wake = null
    }
  }
  const failed = (err: unknown): void => {
    failure ??= err
    settled()
  }
  return {
    async send(from: number, to: number): Promise<void> {
      for (let i = from; i < to; i++) {
        if (inFlight >= window) await new Promise<void>((resolve) => (wake = resolve))
        if (failure) throw failure
        inFlight++
        client.emit('m', jsonMessage(i)).then(settled, failed)
      }
    },
    close: () => void client.close(),
  }
}

/** Echo server of the request/response benchmark. */
export function startWirekitEchoServer(): Promise<Running> {
  return startServer((server) => {
    server.handle('echo', (data) => data)
  })
}

/** Client of the request/response benchmark. */
export async function wirekitRequester(port: number) {
  const client = await connect(port)
  return {
    request: (i: number) => client.request('echo', jsonMessage(i)),
    close: () => void client.close(),
  }
}

/** Server of the idle-memory benchmark, with the benchmark's heartbeat; `ws` listens for WebSocket clients. */
export async function startWirekitIdleServer(heartbeat: Heartbeat, transport: 'tcp' | 'ws' = 'tcp') {
  const running = await startServer(() => {}, { heartbeat, ...MANY_CLIENTS_ONE_ADDRESS }, transport)
  return { port: running.port, connections: () => running.server.connectionCount }
}

/** One client of the idle and broadcast benchmarks (`ws`: over ws://, Node's platform WebSocket path). */
export async function wirekitIdleClient(
  port: number,
  hooks: { onBroadcast: (round: number) => void; onDrop: () => void },
  transport: 'tcp' | 'ws' = 'tcp',
) {
  const client = await connect(port, transport)
  client.on('b', (msg: { i: number }) => hooks.onBroadcast(msg.i))
  client.on('state', (state: string) => {
    if (state !== 'connected') hooks.onDrop()
  })
  return { close: () => void client.close() }
}

/** Server of the broadcast benchmark: every peer joins one room. */
export async function startWirekitBroadcastServer() {
  const running = await startServer((server) => {
    server.on('connection', (peer) => peer.join('room'))
  }, MANY_CLIENTS_ONE_ADDRESS)
  const { server } = running
  return {
    port: running.port,
    close: running.close,
    connections: () => server.connectionCount,
    emitAll: (data: unknown) => server.emit('b', data),
    emitRoom: (data: unknown) => server.to('room').emit('b', data),
  }
}
