// Client process of the idle-memory and broadcast benchmarks: opens N connections of one kind to
// the server under test, keeps them idle (answering heartbeats), counts 'b' broadcasts per round
// and reports when the first and the last client received the current round.
// Usage (by the benchmark only): many-clients.ts <kind> <port> <count>
import { once } from 'node:events'
import net from 'node:net'
import WebSocket from 'ws'
import { arg, onParent, runChild, toParent } from './child.ts'
import { nowNs } from './harness.ts'
import { RawFrameDecoder } from './payload.ts'
import { connectSocketIo } from './socketio-client.ts'
import { wirekitIdleClient } from './wirekit-peers.ts'

/** One open client. */
export type ManyClient = { close: () => void }
/** `onBroadcast` gets the round number of each 'b' a client receives; `onDrop` a lost connection. */
export type ClientHooks = { onBroadcast: (round: number) => void; onDrop: () => void }

/** Connections opened at once: above the listen backlog the kernel starts dropping SYNs. */
const CONNECT_CONCURRENCY = 200

async function socketIoClientOf(port: number, hooks: ClientHooks): Promise<ManyClient> {
  const client = await connectSocketIo(port)
  client.on('b', (msg: { i: number }) => hooks.onBroadcast(msg.i))
  client.on('disconnect', hooks.onDrop)
  return { close: () => client.disconnect() }
}

async function wsClientOf(port: number, hooks: ClientHooks): Promise<ManyClient> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false })
  ws.on('message', (data: Buffer) => hooks.onBroadcast(data.readUInt32LE(0)))
  await once(ws, 'open')
  ws.on('close', hooks.onDrop)
  return { close: () => ws.terminate() }
}

// The floor: a hand-written client of the raw length-prefixed framing with a JSON payload.
async function rawClientOf(port: number, hooks: ClientHooks): Promise<ManyClient> {
  const sock = net.connect({ port, host: '127.0.0.1', noDelay: true })
  const decoder = new RawFrameDecoder((buf, start, end) => {
    const msg = JSON.parse(buf.toString('latin1', start, end)) as { i: number }
    hooks.onBroadcast(msg.i)
  })
  sock.on('data', (chunk: Buffer) => decoder.push(chunk))
  await once(sock, 'connect')
  sock.on('close', hooks.onDrop)
  return { close: () => sock.destroy() }
}

function clientOf(kind: string, port: number, hooks: ClientHooks): Promise<ManyClient> {
  switch (kind) {
    case 'socket.io':
      return socketIoClientOf(port, hooks)
    case 'ws':
      return wsClientOf(port, hooks)
    case 'wirekit':
      return wirekitIdleClient(port, hooks)
    case 'wirekit-ws':
      return wirekitIdleClient(port, hooks, 'ws')
    case 'raw':
      return rawClientOf(port, hooks)
    default:
      throw new Error(`unknown client kind ${kind}`)
  }
}

runChild(async () => {
  const kind = arg(0, 'kind')
  const port = Number(arg(1, 'port'))
  const count = Number(arg(2, 'count'))
  let round = -1
  let received = 0
  let first = 0
  // Event-loop time spent from arming to the last receipt: how busy the clients' process was.
  let armedAt = performance.eventLoopUtilization()
  let drops = 0
  const hooks: ClientHooks = {
    onBroadcast(r) {
      if (r !== round) return
      if (received === 0) first = nowNs()
      if (++received === count) {
        const busy = performance.eventLoopUtilization(armedAt).active
        toParent({ type: 'all', round, first, t1: nowNs(), busy })
      }
    },
    onDrop: () => drops++,
  }
  onParent<{ type: string; round: number }>('arm', (msg) => {
    round = msg.round
    received = 0
    armedAt = performance.eventLoopUtilization()
    toParent({ type: 'armed', round })
  })
  onParent('status', () => toParent({ type: 'status', open: count - drops, drops, received }))

  const clients: ManyClient[] = []
  const t0 = nowNs()
  for (let opened = 0; opened < count; ) {
    const batch = Math.min(CONNECT_CONCURRENCY, count - opened)
    const made = await Promise.all(Array.from({ length: batch }, () => clientOf(kind, port, hooks)))
    clients.push(...made)
    opened += batch
  }
  toParent({ type: 'connected', count: clients.length, ms: (nowNs() - t0) / 1e6 })
})
