// Client process of bench/messaging-reqres.ts: keeps a fixed number of requests in flight against
// the benchmark's echo server, timing each one, and reports throughput and latency quantiles.
// Usage (by the benchmark only): reqres-client.ts <kind> <port> <warmup> <count> <inFlight>
import { once } from 'node:events'
import net from 'node:net'
import { arg, runChild, toParent } from './child.ts'
import { quantile } from './format.ts'
import { nowNs } from './harness.ts'
import { HEADER_BYTES, jsonMessage, PAYLOAD_BYTES, RawFrameDecoder } from './payload.ts'
import { connectSocketIo } from './socketio-client.ts'
import { wirekitRequester } from './wirekit-peers.ts'

/** Sends request `i` and resolves with its response. */
export type Requester = { request: (i: number) => Promise<unknown>; close: () => void }

/** Bytes of the raw request id, right after the length prefix. */
const ID_BYTES = 4

// A hand-written request/response client: [u32 length][u32 id][64-byte payload], one write per
// request, responses matched by id.
async function rawRequester(port: number): Promise<Requester> {
  const sock = net.connect({ port, host: '127.0.0.1', noDelay: true })
  await once(sock, 'connect')
  const pending = new Map<number, (value: unknown) => void>()
  const decoder = new RawFrameDecoder((buf, start) => {
    const id = buf.readUInt32BE(start)
    const resolve = pending.get(id)
    pending.delete(id)
    resolve?.(undefined)
  })
  sock.on('data', (chunk: Buffer) => decoder.push(chunk))
  return {
    request(i) {
      const frame = Buffer.allocUnsafe(HEADER_BYTES + ID_BYTES + PAYLOAD_BYTES)
      frame.writeUInt32BE(ID_BYTES + PAYLOAD_BYTES, 0)
      frame.writeUInt32BE(i, HEADER_BYTES)
      frame.fill(0x78, HEADER_BYTES + ID_BYTES)
      return new Promise((resolve) => {
        pending.set(i, resolve)
        sock.write(frame)
      })
    },
    close: () => sock.destroy(),
  }
}

async function socketIoRequester(port: number): Promise<Requester> {
  const client = await connectSocketIo(port)
  return {
    request: (i) => client.emitWithAck('echo', jsonMessage(i)),
    close: () => client.disconnect(),
  }
}

function requesterFor(kind: string, port: number): Promise<Requester> {
  switch (kind) {
    case 'raw':
      return rawRequester(port)
    case 'socket.io':
      return socketIoRequester(port)
    case 'wirekit':
      return wirekitRequester(port)
    default:
      throw new Error(`unknown client kind ${kind}`)
  }
}

/** Runs `count` requests from index `first`, `inFlight` at a time; returns each one's latency in ns. */
async function closedLoop(requester: Requester, first: number, count: number, inFlight: number) {
  const latencies = new Float64Array(count)
  let next = 0
  async function lane(): Promise<void> {
    while (next < count) {
      const k = next++
      const t = nowNs()
      await requester.request(first + k)
      latencies[k] = nowNs() - t
    }
  }
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, lane))
  return latencies
}

runChild(async () => {
  const kind = arg(0, 'kind')
  const port = Number(arg(1, 'port'))
  const warmup = Number(arg(2, 'warmup'))
  const count = Number(arg(3, 'count'))
  const inFlight = Number(arg(4, 'inFlight'))
  const requester = await requesterFor(kind, port)
  await closedLoop(requester, 0, warmup, inFlight)
  const t0 = nowNs()
  const latencies = await closedLoop(requester, warmup, count, inFlight)
  const ms = (nowNs() - t0) / 1e6
  latencies.sort()
  toParent({
    type: 'result',
    ms,
    perSecond: count / (ms / 1000),
    p50: quantile(latencies, 0.5) / 1e6,
    p99: quantile(latencies, 0.99) / 1e6,
  })
  requester.close()
})
