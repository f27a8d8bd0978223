// A MessageServer fed garbage by 100 concurrent raw connections (random bytes, oversize lengths, broken
// envelopes, protocol violations after a valid HELLO, silence, resets) keeps serving a well-behaved client
// during and after, closes every hostile connection itself, and keeps nothing of them.
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { ErrorCodes } from '../../src/errors.ts'
import { lengthField } from '../../src/framing/index.ts'
import { MessageClient, MessageServer } from '../../src/messaging/index.ts'
import { decodeEnvelope, Format, Kind, newEnvelope } from '../../src/messaging/wire/envelope.ts'
import { encodeFrame } from '../../src/messaging/wire/frame-writer.ts'
import { LONG, waitFor } from './stream-harness.ts'

const CONCURRENT = 100
const ROUNDS = LONG ? 30 : 3
const SEED = Number(process.env.WIREKIT_CHAOS_SEED ?? Date.now() % 1_000_000)
const AUTH_TIMEOUT = 500

const codec = lengthField({ lengthFieldLength: 4, maxFrameLength: 1 << 20 })
const hello = encodeFrame(codec, Kind.HELLO, Format.JSON, { body: JSON.stringify({ v: 1, lastReceived: 0 }) })

/** mulberry32: a seeded generator, so a failing run can be replayed with WIREKIT_CHAOS_SEED. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

/** A kind of garbage, and the GOAWAY codes the server may answer it with (none is allowed: a cut is a cut). */
type Garbage = {
  name: string
  chunks: (random: () => number) => Buffer[]
  serverCloses: boolean
  codes: string[]
}

const P = ErrorCodes.PROTOCOL

function bytes(random: () => number, max: number): Buffer {
  const out = Buffer.allocUnsafe(1 + Math.floor(random() * max))
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(random() * 256)
  return out
}

const GARBAGE: Garbage[] = [
  {
    name: 'random bytes',
    chunks: (r) => [bytes(r, 2000)],
    serverCloses: true,
    codes: [ErrorCodes.FRAME_TOO_LARGE, P, ErrorCodes.AUTH_TIMEOUT],
  },
  {
    name: 'oversize length',
    chunks: (r) => [Buffer.from([0x7f, 0xff, 0xff, 0xff]), bytes(r, 100)],
    serverCloses: true,
    codes: [ErrorCodes.FRAME_TOO_LARGE],
  },
  { name: 'random envelope', chunks: (r) => [codec.encode(bytes(r, 300))], serverCloses: true, codes: [P] },
  {
    name: 'HELLO, then random frames',
    chunks: (r) => [hello, codec.encode(bytes(r, 300)), codec.encode(bytes(r, 50))],
    serverCloses: true,
    codes: [P],
  },
  {
    name: 'HELLO, then a sequence gap',
    chunks: () => [hello, encodeFrame(codec, Kind.EVENT, Format.JSON, { seq: 5, name: 'c', body: '1' })],
    serverCloses: true,
    codes: [P],
  },
  {
    name: 'HELLO, then an ack of nothing sent',
    chunks: () => [hello, encodeFrame(codec, Kind.ACK, Format.EMPTY, { ack: 1_000_000 })],
    serverCloses: true,
    codes: [P],
  },
  {
    name: 'HELLO in broken MessagePack',
    chunks: (r) => [codec.encode(Buffer.concat([Buffer.from([Kind.HELLO, Format.MSGPACK]), bytes(r, 40)]))],
    serverCloses: true,
    codes: [P],
  },
  {
    name: 'HELLO of an unknown version',
    chunks: () => [encodeFrame(codec, Kind.HELLO, Format.JSON, { body: '{"v":2,"lastReceived":0}' })],
    serverCloses: true,
    codes: [P],
  },
  {
    // JSON that makes String() and Number() throw: it must still be a protocol error, not a TypeError.
    name: 'HELLO with an uncoercible version',
    chunks: () => [
      encodeFrame(codec, Kind.HELLO, Format.JSON, { body: '{"v":{"toString":0},"lastReceived":0}' }),
    ],
    serverCloses: true,
    codes: [P],
  },
  {
    name: 'two bytes, then silence',
    chunks: () => [Buffer.from([0, 0])],
    serverCloses: true,
    codes: [ErrorCodes.AUTH_TIMEOUT],
  },
  {
    name: 'HELLO, then unknown flags',
    chunks: () => [hello, Buffer.from([0, 0, 0, 2, Kind.PING, 0x80])],
    serverCloses: true,
    codes: [P],
  },
]

type Outcome = { closedByServer: boolean; goaway: string | undefined }

/** One hostile connection: send the garbage, then wait for the server to close (or give up after `ms`). */
async function assault(
  port: number,
  garbage: Garbage,
  random: () => number,
  sockets: Set<Socket>,
): Promise<Outcome> {
  const socket = connect({ host: '127.0.0.1', port })
  sockets.add(socket)
  socket.on('error', () => {})
  const received: Buffer[] = []
  socket.on('data', (chunk) => received.push(chunk))
  let closedByServer = false
  const closed = new Promise<void>((resolve) => {
    socket.once('end', () => {
      closedByServer = true
    })
    socket.once('close', (hadError) => {
      if (hadError) closedByServer = true // a reset from the server
      resolve()
    })
  })
  await new Promise((resolve) => socket.once('connect', resolve))
  for (const chunk of garbage.chunks(random)) socket.write(chunk)
  const timer = setTimeout(() => socket.destroy(), AUTH_TIMEOUT + 4000)
  await closed
  clearTimeout(timer)
  sockets.delete(socket)
  let goaway: string | undefined
  try {
    const envelope = newEnvelope()
    codec.decoder().push(Buffer.concat(received), (frame) => {
      const env = decodeEnvelope(frame, envelope)
      if (env.kind === Kind.GOAWAY) goaway = JSON.parse(frame.toString('utf8', env.payloadStart)).code
    })
  } catch {
    // a connection cut mid-frame: what arrived before is enough
  }
  return { closedByServer, goaway }
}

describe('garbage from 100 concurrent connections', () => {
  let server: MessageServer
  let port: number
  let client: MessageClient
  const sockets = new Set<Socket>()
  const serverErrors: unknown[] = []

  before(async () => {
    server = new MessageServer({ authTimeout: AUTH_TIMEOUT, maxFrameLength: 64 * 1024 })
    server.handle('echo', (data) => data)
    server.on('error', (error: unknown) => serverErrors.push(error))
    port = ((await server.listen({ port: 0, host: '127.0.0.1' })) as { port: number }).port
    client = await MessageClient.connect(`tcp://127.0.0.1:${port}`)
  })

  after(async () => {
    for (const socket of sockets) socket.destroy()
    await client.close()
    await server.close()
  })

  test('the server closes every hostile connection and serves a good client during and after', {
    timeout: LONG ? 600_000 : 60_000,
  }, async () => {
    const random = prng(SEED)
    let attacking = true
    let served = 0
    let slowest = 0
    const goodClient = (async () => {
      for (let i = 0; attacking; i++) {
        const started = Date.now()
        assert.deepEqual(await client.request('echo', { i }, { timeout: 10_000 }), { i })
        slowest = Math.max(slowest, Date.now() - started)
        served++
      }
    })()
    const outcomes = new Map<string, { count: number; closed: number; codes: Set<string> }>()
    const worker = async (w: number): Promise<void> => {
      for (let round = 0; round < ROUNDS; round++) {
        const garbage = GARBAGE[(w + round * 7) % GARBAGE.length]!
        const outcome = await assault(port, garbage, random, sockets)
        const entry = outcomes.get(garbage.name) ?? { count: 0, closed: 0, codes: new Set<string>() }
        entry.count++
        if (outcome.closedByServer) entry.closed++
        if (outcome.goaway !== undefined) entry.codes.add(outcome.goaway)
        outcomes.set(garbage.name, entry)
      }
    }
    try {
      await Promise.all(Array.from({ length: CONCURRENT }, (_, w) => worker(w)))
    } finally {
      attacking = false
      await goodClient
    }
    const servedDuring = served
    for (let i = 0; i < 100; i++) assert.deepEqual(await client.request('echo', { after: i }), { after: i })
    await waitFor(() => server.connectionCount === 1, 5000, 'hostile connections to be gone')

    console.log(
      `[chaos] garbage (seed ${SEED}): ${CONCURRENT * ROUNDS} hostile connections, ${CONCURRENT} at a time; ` +
        `good client served ${servedDuring} requests during (slowest ${slowest} ms) and 100 after`,
    )
    for (const [name, o] of outcomes)
      console.log(
        `  ${name}: ${o.closed}/${o.count} closed by the server, GOAWAY ${[...o.codes].join(', ') || '-'}`,
      )
    for (const garbage of GARBAGE) {
      const o = outcomes.get(garbage.name)
      if (o === undefined) continue
      if (garbage.serverCloses) assert.equal(o.closed, o.count, `${garbage.name}: left open by the server`)
      for (const code of o.codes)
        assert.ok(garbage.codes.includes(code), `${garbage.name}: answered with ${code}`)
    }
    assert.ok(servedDuring > 0, 'the good client got no answer during the attack')
    assert.equal(server.connectionCount, 1)
    assert.equal(server.peers.size, 1, 'hostile sessions were kept')
    assert.deepEqual(serverErrors, [])
    assert.equal(client.state, 'connected')
  })
})
