// `wirekit bench`: a quick measure of this machine's messaging speed on loopback, in one process:
// one-way reliable messages (sequence numbers, acks, outbox all on) and request/response with N in flight.
// The side-by-side comparisons with socket.io, ws and raw net live in the repository's bench/ folder.
import { MessageClient, MessageServer, type Peer } from '../messaging/index.ts'

export type BenchOptions = {
  messages: number
  requests: number
  inFlight: number
  log?: (line: string) => void
}
export type BenchResult = { messagesPerSecond: number; requestsPerSecond: number; p50: number; p99: number }

export async function bench(options: BenchOptions): Promise<BenchResult> {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`))
  const server = new MessageServer()
  server.handle('echo', (data) => data)
  let received = 0
  let allReceived: () => void = () => {}
  server.on('connection', (peer: Peer) =>
    peer.on('tick', () => ++received === options.messages && allReceived()),
  )
  const address = await server.listen({ host: '127.0.0.1', port: 0 })
  const port = 'port' in address ? address.port : 0
  const client = await MessageClient.connect(`tcp://127.0.0.1:${port}`)
  const payload = { text: 'x'.repeat(48) } // about 64 bytes of JSON
  try {
    // One-way: keep a window of unacknowledged emits, as a producer that respects backpressure would.
    const window = 4096
    const done = new Promise<void>((resolve) => (allReceived = resolve))
    let start = performance.now()
    let inWindow: Promise<void>[] = []
    for (let i = 0; i < options.messages; i++) {
      inWindow.push(client.emit('tick', payload))
      if (inWindow.length === window) {
        await inWindow[0]
        inWindow = inWindow.slice(window / 2)
      }
    }
    await Promise.all(inWindow)
    await done
    const messagesPerSecond = options.messages / ((performance.now() - start) / 1000)
    log(
      `one-way:          ${format(messagesPerSecond)} msgs/s (${options.messages} × 64 B JSON, acknowledged)`,
    )

    // Request/response with `inFlight` outstanding.
    const latencies = new Float64Array(options.requests)
    let next = 0
    start = performance.now()
    const worker = async () => {
      while (next < options.requests) {
        const i = next++
        const t = performance.now()
        await client.request('echo', payload)
        latencies[i] = performance.now() - t
      }
    }
    await Promise.all(Array.from({ length: options.inFlight }, worker))
    const requestsPerSecond = options.requests / ((performance.now() - start) / 1000)
    latencies.sort()
    const p50 = latencies[Math.floor(latencies.length * 0.5)] ?? 0
    const p99 = latencies[Math.floor(latencies.length * 0.99)] ?? 0
    log(
      `request/response: ${format(requestsPerSecond)} req/s with ${options.inFlight} in flight (p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms)`,
    )
    return { messagesPerSecond, requestsPerSecond, p50, p99 }
  } finally {
    await client.close()
    await server.close()
  }
}

function format(n: number): string {
  return Math.round(n).toLocaleString('en-US')
}
