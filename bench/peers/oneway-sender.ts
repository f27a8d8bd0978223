// Sender process of bench/messaging-oneway.ts: connects one peer to the receiver, sends a warm-up
// batch, waits for the benchmark's 'go', then sends the measured messages as fast as the peer's own
// flow control allows.
// Usage (by the benchmark only): oneway-sender.ts <kind> <port> <warmup> <count> <wirekitWindow>
import { once } from 'node:events'
import net from 'node:net'
import { setImmediate as yieldToLoop } from 'node:timers/promises'
import WebSocket from 'ws'
import { arg, fromParent, runChild, toParent } from './child.ts'
import { nowNs } from './harness.ts'
import {
  binaryMessage,
  HEADER_BYTES,
  jsonMessage,
  PAYLOAD_BYTES,
  rawFrame,
  writeRawFrame,
} from './payload.ts'
import { connectSocketIo } from './socketio-client.ts'
import { wirekitOnewaySender } from './wirekit-peers.ts'

/** Sends messages `from` (inclusive) to `to` (exclusive); resolves when they are all handed over. */
export type SendRange = (from: number, to: number) => Promise<void>
type Sender = { send: SendRange; close: () => void }

/** Frames per write in the batched raw sender: about 68 KB, the size a good hand-written batcher picks. */
const RAW_BATCH = 1024
/** Messages the socket.io and ws senders emit between looks at the socket's write buffer. */
const BURST = 1024
/** Bytes queued in user space above which the socket.io and ws senders wait for 'drain'. */
const HIGH_WATER = 1 << 20

// Waits until the socket's user-space queue drains, as a producer honouring backpressure does.
async function honourBackpressure(sock: net.Socket, queued: number): Promise<void> {
  if (queued > HIGH_WATER && !sock.destroyed) await once(sock, 'drain')
}

// noDelay false is Node's default: Nagle then merges small writes in the kernel, which makes this
// baseline faster than with noDelay on (both are measured).
async function rawSingle(port: number, noDelay: boolean): Promise<Sender> {
  const sock = net.connect({ port, host: '127.0.0.1', noDelay })
  await once(sock, 'connect')
  return {
    async send(from, to) {
      for (let i = from; i < to; i++) {
        if (!sock.write(rawFrame(i))) await once(sock, 'drain')
      }
    },
    close: () => sock.destroy(),
  }
}

async function rawBatched(port: number): Promise<Sender> {
  const sock = net.connect({ port, host: '127.0.0.1', noDelay: true })
  await once(sock, 'connect')
  const frameBytes = HEADER_BYTES + PAYLOAD_BYTES
  return {
    async send(from, to) {
      for (let i = from; i < to; ) {
        const n = Math.min(RAW_BATCH, to - i)
        const batch = Buffer.allocUnsafe(n * frameBytes)
        let offset = 0
        for (let k = 0; k < n; k++) offset = writeRawFrame(batch, offset, i++)
        if (!sock.write(batch)) await once(sock, 'drain')
      }
    },
    close: () => sock.destroy(),
  }
}

// ws keeps its net.Socket private; the benchmark reads it to honour backpressure like a careful user.
function socketOf(ws: WebSocket): net.Socket {
  return (ws as unknown as { _socket: net.Socket })._socket
}

async function wsSender(port: number): Promise<Sender> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false })
  await once(ws, 'open')
  return {
    async send(from, to) {
      for (let i = from; i < to; i++) {
        ws.send(binaryMessage(i))
        if ((i - from) % BURST === BURST - 1) await honourBackpressure(socketOf(ws), ws.bufferedAmount)
      }
    },
    close: () => ws.terminate(),
  }
}

type EngineTransport = { ws?: WebSocket }

async function socketIoSender(port: number): Promise<Sender> {
  const client = await connectSocketIo(port)
  const wsOf = (): WebSocket | undefined => (client.io.engine.transport as unknown as EngineTransport).ws
  return {
    async send(from, to) {
      for (let i = from; i < to; i++) {
        client.emit('m', jsonMessage(i))
        if ((i - from) % BURST === BURST - 1) {
          // engine.io flushes its write buffer on the next tick; let it, then look at the socket.
          await yieldToLoop()
          const ws = wsOf()
          if (ws) await honourBackpressure(socketOf(ws), ws.bufferedAmount)
        }
      }
    },
    close: () => client.disconnect(),
  }
}

function senderFor(kind: string, port: number, window: number): Promise<Sender> {
  switch (kind) {
    case 'raw-single':
      return rawSingle(port, false)
    case 'raw-single-nodelay':
      return rawSingle(port, true)
    case 'raw-batched':
      return rawBatched(port)
    case 'ws':
      return wsSender(port)
    case 'socket.io':
      return socketIoSender(port)
    case 'wirekit':
      return wirekitOnewaySender(port, window)
    default:
      throw new Error(`unknown sender kind ${kind}`)
  }
}

runChild(async () => {
  const kind = arg(0, 'kind')
  const port = Number(arg(1, 'port'))
  const warmup = Number(arg(2, 'warmup'))
  const count = Number(arg(3, 'count'))
  const window = Number(arg(4, 'wirekitWindow'))
  const sender = await senderFor(kind, port, window)
  // Listen before sending: the receiver may have every warm-up message before send() resolves.
  const go = fromParent('go')
  const stop = fromParent('stop')
  await sender.send(0, warmup)
  toParent({ type: 'warmed' })
  await go
  const cpu0 = process.cpuUsage()
  const t0 = nowNs()
  toParent({ type: 'started', t0 })
  await sender.send(warmup, warmup + count)
  const cpu = process.cpuUsage(cpu0)
  // Share of one core the sender used while sending: 100% means the sender was the bottleneck.
  toParent({ type: 'sent', cpu: (cpu.user + cpu.system) / 1000 / ((nowNs() - t0) / 1e6) })
  await stop
  sender.close()
  process.exit(0)
})
