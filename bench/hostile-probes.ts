// Hostile-client probes against a MessageServer with default limits, for RELIABILITY.md ("Hostile
// clients"): what the attacker gets, another client's request latency before and during, server RSS.
// The server runs in a child process so its RSS is its own. Bounded: each probe has a fixed count and
// a deadline; loopback only. Usage: node bench/hostile-probes.ts
import { fork } from 'node:child_process'
import net from 'node:net'
import { lengthField } from '../src/framing/index.ts'
import { MessageClient, MessageServer, type Peer } from '../src/messaging/index.ts'
import { decodeEnvelope, Format, Kind, newEnvelope } from '../src/messaging/wire/envelope.ts'
import { encodeFrame } from '../src/messaging/wire/frame-writer.ts'

const codec = lengthField({ lengthFieldLength: 4, maxFrameLength: 1 << 30 })
const hello = encodeFrame(codec, Kind.HELLO, Format.JSON, { body: JSON.stringify({ v: 1, lastReceived: 0 }) })
const PROBE_DEADLINE_MS = 60_000

if (process.argv.includes('--server')) {
  const server = new MessageServer()
  server.handle('echo', (data) => data)
  server.handle('slow', () => new Promise((r) => setTimeout(() => r('late'), 3000)))
  server.handle('join', (room: string, peer: Peer) => peer.join(room))
  server.on('connection', (peer: Peer) => peer.on('chat', () => {}))
  const address = (await server.listen({ port: 0, host: '127.0.0.1' })) as { port: number }
  process.send!({ port: address.port })
  process.on('message', (m: string) => {
    if (m === 'rss') {
      global.gc?.()
      process.send!({ rss: process.memoryUsage().rss })
    } else if (m === 'exit') void server.close().then(() => process.exit(0))
  })
} else {
  await main()
}

type Raw = { socket: net.Socket; goaways: string[]; closed: boolean; frames: number }

function rawConnect(port: number): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port })
    const raw: Raw = { socket, goaways: [], closed: false, frames: 0 }
    const decoder = codec.decoder()
    const envelope = newEnvelope()
    let received = 0
    socket.on('data', (chunk) => {
      const before = received
      try {
        decoder.push(chunk, (frame) => {
          const env = decodeEnvelope(frame, envelope)
          raw.frames++
          if (env.seq > received) received = env.seq
          if (env.kind === Kind.GOAWAY)
            raw.goaways.push(JSON.parse(frame.toString('utf8', env.payloadStart)).code)
          if (env.kind === Kind.ERROR)
            raw.goaways.push(`error:${JSON.parse(frame.toString('utf8', env.payloadStart)).code}`)
        })
      } catch {
        socket.destroy()
      }
      // Acknowledge like a real client, so the server's per-peer buffer is not what cuts the probe.
      if (received > before && !socket.destroyed) {
        socket.write(encodeFrame(codec, Kind.ACK, Format.EMPTY, { ack: received }))
      }
    })
    socket.on('close', () => {
      raw.closed = true
    })
    socket.once('connect', () => resolve(raw))
    socket.once('error', reject)
  })
}

async function until(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
  return check()
}

/** p50 and max of 20 sequential echo requests from a well-behaved client (a fresh one when `fresh`). */
async function latency(port: number, client: MessageClient | undefined): Promise<string> {
  const own = client ?? (await MessageClient.connect(`tcp://127.0.0.1:${port}`, { reconnect: false }))
  const times: number[] = []
  for (let i = 0; i < 20; i++) {
    const started = performance.now()
    await own.request('echo', i, { timeout: 10_000 })
    times.push(performance.now() - started)
  }
  if (client === undefined) await own.close()
  times.sort((a, b) => a - b)
  return `p50 ${times[10]!.toFixed(2)} ms, max ${times[19]!.toFixed(1)} ms`
}

function destroyAll(raws: Raw[]): void {
  for (const raw of raws) raw.socket.destroy()
}

function summarize(raws: Raw[]): string {
  const counts = new Map<string, number>()
  for (const raw of raws) {
    const key =
      raw.goaways.filter((g) => !g.startsWith('error:')).join('+') || (raw.closed ? 'closed' : 'open')
    counts.set(key, (counts.get(key) ?? 0) + 1)
  }
  return [...counts].map(([k, n]) => `${n}× ${k}`).join(', ')
}

async function main(): Promise<void> {
  const child = fork(import.meta.filename, ['--server'], { execArgv: ['--expose-gc'] })
  const messages: Record<string, number>[] = []
  child.on('message', (m: Record<string, number>) => messages.push(m))
  await until(() => messages.length > 0, 10_000)
  const port = messages.shift()!.port!
  const rss = async (): Promise<string> => {
    child.send('rss')
    await until(() => messages.length > 0, 5000)
    return `${(messages.shift()!.rss! / 1048576).toFixed(0)} MB`
  }
  const url = `tcp://127.0.0.1:${port}`
  const other = await MessageClient.connect(url, { reconnect: false })
  const rows: string[][] = []

  async function probe(
    name: string,
    limit: string,
    attack: () => Promise<{ seen: string; cleanup: () => void }>,
    freshOther = false,
  ) {
    const rssBefore = await rss()
    const before = await latency(port, freshOther ? undefined : other)
    const started = Date.now()
    const { seen, cleanup } = await attack()
    const during = await latency(port, freshOther ? undefined : other)
    const rssDuring = await rss()
    cleanup()
    if (Date.now() - started > PROBE_DEADLINE_MS) throw new Error(`${name}: over ${PROBE_DEADLINE_MS} ms`)
    rows.push([name, limit, seen, `${before} → ${during}`, `${rssBefore} → ${rssDuring}`])
    await new Promise((r) => setTimeout(r, 500))
  }

  await probe(
    '2,000 connections, each a 4-byte header announcing 1 MiB before HELLO',
    '`maxHandshakeFrameLength` 64 KiB',
    async () => {
      const raws: Raw[] = []
      for (let i = 0; i < 2000; i++) {
        const raw = await rawConnect(port)
        raw.socket.write(Buffer.from([0, 0x10, 0, 0]))
        raws.push(raw)
      }
      await until(() => raws.every((r) => r.closed), 10_000)
      return { seen: summarize(raws), cleanup: () => destroyAll(raws) }
    },
  )

  await probe(
    '1,500 silent connections from one address (no HELLO)',
    '`maxConnectionsPerAddress` 1,024; `authTimeout` 5 s',
    async () => {
      const raws: Raw[] = []
      for (let i = 0; i < 1500; i++) raws.push(await rawConnect(port))
      await new Promise((r) => setTimeout(r, 300))
      return {
        seen: `${summarize(raws)} (a new client still gets in: latency column)`,
        cleanup: () => destroyAll(raws),
      }
    },
    true,
  )

  await probe(
    '20,000 requests at once to a 3 s handler, one client',
    '`maxRequestsPerPeer` 256',
    async () => {
      const raw = await rawConnect(port)
      raw.socket.write(hello)
      await until(() => raw.frames > 0, 5000)
      const frames: Buffer[] = []
      for (let i = 1; i <= 20_000; i++)
        frames.push(
          encodeFrame(codec, Kind.REQUEST, Format.JSON, { seq: i, id: i, name: 'slow', body: 'null' }),
        )
      raw.socket.write(Buffer.concat(frames))
      await until(() => raw.goaways.length >= 20_000 - 256, 20_000)
      const refused = raw.goaways.filter((g) => g === 'error:WK_BACKPRESSURE').length
      return {
        seen: `${refused} answered WK_BACKPRESSURE at once, 256 run`,
        cleanup: () => raw.socket.destroy(),
      }
    },
  )

  await probe(
    '20,000 `join` requests (an app handler calling `peer.join(room)`)',
    '`maxRoomsPerPeer` 1,000',
    async () => {
      const client = await MessageClient.connect(url, { reconnect: false })
      let refused = 0
      for (let batch = 0; batch < 20; batch++) {
        await Promise.all(
          Array.from({ length: 1000 }, (_, i) =>
            client.request('join', `room-${batch * 1000 + i}`).catch(() => {
              refused++
            }),
          ),
        )
      }
      return {
        seen: `${refused} refused (WK_REMOTE_ERROR with remoteCode WK_BACKPRESSURE)`,
        cleanup: () => void client.close(),
      }
    },
  )

  await probe(
    '10,000 distinct junk event names from one client',
    'name cache: 256 slots, seeded hash',
    async () => {
      const client = await MessageClient.connect(url, { reconnect: false })
      for (let batch = 0; batch < 10; batch++) {
        await Promise.all(
          Array.from({ length: 1000 }, (_, i) => client.volatile.emit(`junk-${batch}-${i}`, i)),
        )
        await new Promise((r) => setImmediate(r))
      }
      await client.request('echo', 'sync')
      return { seen: 'delivered (no listener); no slot held for good', cleanup: () => void client.close() }
    },
  )

  await probe(
    'one client sending 1,000,000 events as fast as TCP takes them',
    'none (`rateLimit` is opt-in)',
    async () => {
      const raw = await rawConnect(port)
      raw.socket.write(hello)
      await until(() => raw.frames > 0, 5000)
      const batch: Buffer[] = []
      for (let i = 0; i < 10_000; i++)
        batch.push(encodeFrame(codec, Kind.VOLATILE, Format.JSON, { name: 'chat', body: '{"t":"x"}' }))
      const chunk = Buffer.concat(batch)
      const flood = (async () => {
        for (let i = 0; i < 100 && !raw.closed; i++) {
          if (!raw.socket.write(chunk)) await new Promise((r) => raw.socket.once('drain', r))
        }
      })()
      // Measured while the flood is being read.
      await new Promise((r) => setTimeout(r, 200))
      return {
        seen: 'all accepted (TCP flow control paces it)',
        cleanup: () => {
          void flood.finally(() => raw.socket.destroy())
        },
      }
    },
  )

  await probe('events named `close` / `error` and a request id reused while pending', 'refused', async () => {
    const raws: Raw[] = []
    for (const bad of [
      encodeFrame(codec, Kind.EVENT, Format.JSON, { seq: 1, name: 'close', body: '1' }),
      encodeFrame(codec, Kind.VOLATILE, Format.JSON, { name: 'error', body: '1' }),
      Buffer.concat([
        encodeFrame(codec, Kind.REQUEST, Format.JSON, { seq: 1, id: 7, name: 'slow', body: 'null' }),
        encodeFrame(codec, Kind.REQUEST, Format.JSON, { seq: 2, id: 7, name: 'slow', body: 'null' }),
      ]),
    ]) {
      const raw = await rawConnect(port)
      raw.socket.write(Buffer.concat([hello, bad]))
      raws.push(raw)
    }
    await until(() => raws.every((r) => r.closed), 5000)
    return { seen: summarize(raws), cleanup: () => destroyAll(raws) }
  })

  await other.close()
  child.send('exit')
  console.log(
    '| probe | default limit | what the attacker sees | other client: latency before → during | server RSS before → during |',
  )
  console.log('| --- | --- | --- | --- | --- |')
  for (const row of rows) console.log(`| ${row.join(' | ')} |`)
}
