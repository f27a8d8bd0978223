// Batch envelopes (src/messaging/wire/batch.ts): several envelopes in one WebSocket message, only between
// peers that agreed in HELLO/WELCOME. The codec is fed bytes; the server is spoken to by a plain `ws`
// client writing batches by hand, and by MessageClient over ws://.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import WebSocket from 'ws'
import { MessageClient, type MessageServer, type Peer } from '../../src/messaging/index.ts'
import {
  BATCH_MAX_BYTES,
  BATCH_MAX_ENVELOPES,
  eachBatched,
  packBatches,
} from '../../src/messaging/wire/batch.ts'
import { decodeData, decodeEnvelope, encodeEnvelope, Kind } from '../../src/messaging/wire/envelope-bytes.ts'
import { startServer, waitFor } from './helpers.ts'

const BATCH = 13
const RAW = 2

/** A batch message written byte by byte: kind 13, flags RAW, then big-endian length + envelope each. */
function batchOf(envelopes: Uint8Array[], flags = RAW): Uint8Array {
  const size = envelopes.reduce((sum, e) => sum + 4 + e.length, 2)
  const out = new Uint8Array(size)
  const view = new DataView(out.buffer)
  out[0] = BATCH
  out[1] = flags
  let at = 2
  for (const e of envelopes) {
    view.setUint32(at, e.length)
    out.set(e, at + 4)
    at += 4 + e.length
  }
  return out
}

/** A session flush as the core writes it: big-endian length + envelope, repeated. */
function framesOf(envelopes: Uint8Array[]): Uint8Array {
  return batchOf(envelopes).subarray(2)
}

const event = (seq: number, data: unknown = { i: seq }) =>
  encodeEnvelope({ kind: Kind.EVENT, seq, name: 'm', data })

function unpack(message: Uint8Array, limit = BATCH_MAX_BYTES): Uint8Array[] {
  const out: Uint8Array[] = []
  eachBatched(message, limit, (e) => {
    out.push(e.slice())
  })
  return out
}

function protocolError(what: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.equal((error as { code?: string }).code, 'WK_PROTOCOL')
    assert.match((error as Error).message, what)
    return true
  }
}

describe('batch envelope codec (bytes in, bytes out)', () => {
  test('packBatches puts consecutive envelopes in one batch that eachBatched unpacks in order', () => {
    const envelopes = Array.from({ length: 50 }, (_, i) => event(i + 1))
    const messages: Uint8Array[] = []
    packBatches(
      framesOf(envelopes),
      BATCH_MAX_BYTES,
      (n) => new Uint8Array(n),
      (m) => messages.push(m),
    )
    assert.equal(messages.length, 1)
    assert.equal(messages[0]![0], BATCH)
    assert.deepEqual(unpack(messages[0]!), envelopes)
  })

  test('a batch stays within the byte limit and the envelope count; a lone envelope goes unwrapped', () => {
    const big = Array.from({ length: 40 }, (_, i) => event(i + 1, 'x'.repeat(90)))
    const messages: Uint8Array[] = []
    const lasts: boolean[] = []
    packBatches(
      framesOf(big),
      1024,
      (n) => new Uint8Array(n),
      (m, last) => {
        messages.push(m)
        lasts.push(last)
      },
    )
    assert.ok(messages.length > 1)
    for (const m of messages) assert.ok(m.length <= 1024, `${m.length} bytes`)
    assert.deepEqual(
      lasts,
      messages.map((_, i) => i === messages.length - 1),
    )
    const again = messages.flatMap((m) => (m[0] === BATCH ? unpack(m) : [m]))
    assert.deepEqual(again, big)

    const many = Array.from({ length: BATCH_MAX_ENVELOPES + 5 }, (_, i) => event(i + 1))
    const counted: number[] = []
    packBatches(
      framesOf(many),
      BATCH_MAX_BYTES,
      (n) => new Uint8Array(n),
      (m) => counted.push(m[0] === BATCH ? unpack(m).length : 1),
    )
    assert.deepEqual(counted, [BATCH_MAX_ENVELOPES, 5])

    const alone: Uint8Array[] = []
    const one = event(1)
    packBatches(
      framesOf([one]),
      BATCH_MAX_BYTES,
      (n) => new Uint8Array(n),
      (m) => alone.push(m),
    )
    assert.deepEqual(alone, [one])
  })

  test('an envelope bigger than the limit travels alone, as itself, between batches', () => {
    const envelopes = [event(1), event(2, 'y'.repeat(3000)), event(3), event(4)]
    const messages: Uint8Array[] = []
    packBatches(
      framesOf(envelopes),
      1024,
      (n) => new Uint8Array(n),
      (m) => messages.push(m),
    )
    assert.deepEqual(messages[0], envelopes[0])
    assert.deepEqual(messages[1], envelopes[1])
    assert.deepEqual(unpack(messages[2]!), [envelopes[2], envelopes[3]])
  })

  test('a nested batch is refused with WK_PROTOCOL and nothing of it is delivered', () => {
    const inner = batchOf([event(1), event(2)])
    const seen: Uint8Array[] = []
    assert.throws(
      () =>
        eachBatched(batchOf([event(1), inner]), BATCH_MAX_BYTES, (e) => {
          seen.push(e)
        }),
      protocolError(/nested/),
    )
    assert.equal(seen.length, 0)
  })

  test('an inner length past the end, a cut length, a zero-length inner are refused with WK_PROTOCOL', () => {
    const good = batchOf([event(1), event(2)])
    const pastEnd = good.slice()
    new DataView(pastEnd.buffer).setUint32(2, 0xffff_fff0)
    assert.throws(() => unpack(pastEnd), protocolError(/past the end/))
    assert.throws(() => unpack(good.subarray(0, good.length - 1)), protocolError(/past the end/))
    const cut = new Uint8Array([...good, 0, 0])
    assert.throws(() => unpack(cut), protocolError(/cut at/))
    assert.throws(() => unpack(batchOf([event(1), new Uint8Array(0)])), protocolError(/empty envelope/))
    assert.throws(() => unpack(Uint8Array.of(BATCH, RAW)), protocolError(/Bad batch: empty/))
  })

  test('too many inners, an oversize batch and other flags are refused with WK_PROTOCOL', () => {
    const ping = encodeEnvelope({ kind: Kind.PING })
    const tooMany = batchOf(Array.from({ length: BATCH_MAX_ENVELOPES + 1 }, () => ping))
    assert.throws(() => unpack(tooMany), protocolError(/over 1024 envelopes/))
    const oversize = batchOf([event(1, 'z'.repeat(BATCH_MAX_BYTES))])
    assert.throws(() => unpack(oversize), protocolError(/> 65536/))
    assert.throws(() => unpack(batchOf([event(1)]), 8), protocolError(/> 8/))
    assert.throws(() => unpack(batchOf([event(1)], 0)), protocolError(/flags 0/))
  })
})

/** A plain `ws` client (nobody here wrote it) speaking raw envelopes, with every message it receives. */
async function rawClient(url: string) {
  const ws = new WebSocket(url, 'wirekit.1')
  const messages: Uint8Array[] = []
  ws.on('message', (data: Buffer) => messages.push(new Uint8Array(data)))
  const closed = new Promise<[number, string]>((resolve) =>
    ws.on('close', (code, reason) => resolve([code, String(reason)])),
  )
  await new Promise((resolve, reject) => {
    ws.once('open', resolve)
    ws.once('error', reject)
  })
  return { ws, messages, closed }
}

/** Every envelope received, batches unpacked, decoded. */
function envelopesIn(messages: Uint8Array[]) {
  return messages.flatMap((m) => (m[0] === BATCH ? unpack(m) : [m])).map((m) => decodeEnvelope(m))
}

describe('batch envelopes over a real server', () => {
  let server: MessageServer
  let url: string
  const peers: Peer[] = []
  const got: unknown[] = []

  before(async () => {
    const started = await startServer({ maxFrameLength: 256 * 1024 }, 'ws')
    server = started.server
    url = started.url
    server.handle('echo', (data) => data)
    server.on('connection', (peer: Peer) => {
      peers.push(peer)
      peer.on('m', (data) => got.push(data))
    })
  })

  after(async () => {
    await server.close()
  })

  async function hello(offer?: number) {
    const client = await rawClient(url)
    const data: Record<string, unknown> = { v: 1, lastReceived: 0 }
    if (offer !== undefined) data.batch = offer
    const before = peers.length
    client.ws.send(encodeEnvelope({ kind: Kind.HELLO, data }))
    await waitFor(() => client.messages.length > 0 && peers.length > before, 5000, 'the WELCOME')
    const welcome = decodeData(envelopesIn(client.messages)[0]!) as { batch?: number }
    return { ...client, welcome, peer: peers[peers.length - 1]! }
  }

  test('a raw client that offers no batches is offered none and gets one envelope per message', async () => {
    const { ws, messages, welcome, peer } = await hello()
    assert.equal(welcome.batch, undefined)
    for (let i = 0; i < 100; i++) void peer.emit('m', i).catch(() => {})
    await waitFor(() => messages.length >= 101, 5000, '100 pushes')
    assert.ok(messages.every((m) => m[0] !== BATCH))
    assert.deepEqual(
      messages.slice(1).map((m) => decodeData(decodeEnvelope(m))),
      Array.from({ length: 100 }, (_, i) => i),
    )
    ws.close()
  })

  test('a raw client that offers batches gets a turn of pushes in one batch and may send batches', async () => {
    const { ws, messages, welcome, peer } = await hello(BATCH_MAX_BYTES)
    assert.equal(welcome.batch, BATCH_MAX_BYTES)
    const from = messages.length
    for (let i = 0; i < 100; i++) void peer.emit('m', i).catch(() => {})
    await waitFor(() => envelopesIn(messages.slice(from)).length >= 100, 5000, '100 pushes')
    assert.equal(messages.length - from, 1, 'one WebSocket message for one turn of pushes')
    const pushed = envelopesIn(messages.slice(from))
    assert.deepEqual(
      pushed.map((e) => decodeData(e)),
      Array.from({ length: 100 }, (_, i) => i),
    )
    got.length = 0
    ws.send(batchOf([event(1, 'a'), event(2, 'b'), event(3, 'c')]))
    await waitFor(() => got.length === 3, 5000, 'three events from one batch')
    assert.deepEqual(got, ['a', 'b', 'c'])
    ws.close()
  })

  test("a WELCOME goes alone: a resumed session's resends follow in a later WebSocket message", async () => {
    const first = await hello(BATCH_MAX_BYTES)
    const { session, token } = first.welcome as unknown as { session: string; token: string }
    for (let i = 0; i < 5; i++) void first.peer.emit('m', i).catch(() => {})
    await waitFor(() => envelopesIn(first.messages).length >= 6, 5000, 'five pushes')
    first.ws.terminate()
    await first.closed
    const again = await rawClient(url)
    again.ws.send(
      encodeEnvelope({
        kind: Kind.HELLO,
        data: { v: 1, session, token, lastReceived: 0, batch: BATCH_MAX_BYTES },
      }),
    )
    await waitFor(() => envelopesIn(again.messages).length >= 6, 5000, 'the WELCOME and five resends')
    assert.equal(again.messages[0]![0], Kind.WELCOME, 'the WELCOME unwrapped, alone')
    assert.equal((decodeData(decodeEnvelope(again.messages[0]!)) as { resumed: boolean }).resumed, true)
    assert.equal(again.messages[1]![0], BATCH, 'the resends in one batch after it')
    assert.deepEqual(
      unpack(again.messages[1]!).map((m) => decodeData(decodeEnvelope(m))),
      [0, 1, 2, 3, 4],
    )
    again.ws.close()
  })

  test('a batch from a client that did not offer batches closes it with WK_PROTOCOL', async () => {
    const { ws, messages, closed } = await hello()
    got.length = 0
    ws.send(batchOf([event(1, 'a'), event(2, 'b')]))
    const [code, reason] = await closed
    assert.equal(code, 1002)
    assert.equal(reason, 'WK_PROTOCOL')
    const goaway = envelopesIn(messages).find((e) => e.kind === Kind.GOAWAY)!
    assert.match((decodeData(goaway) as { message: string }).message, /not agreed/)
    assert.deepEqual(got, [])
  })

  for (const [what, message] of [
    ['a nested batch', batchOf([event(1), batchOf([event(2)])])],
    ['an inner length past the end', batchOf([event(1)]).subarray(0, 8)],
    ['a zero-length inner', batchOf([event(1), new Uint8Array(0)])],
    ['too many inners', batchOf(Array.from({ length: 1025 }, () => encodeEnvelope({ kind: Kind.PING })))],
    ['an oversize batch', batchOf([event(1, 'z'.repeat(70_000))])],
  ] as const) {
    test(`${what} from a client that agreed closes it with WK_PROTOCOL; the server keeps serving`, async () => {
      const { ws, closed } = await hello(BATCH_MAX_BYTES)
      got.length = 0
      ws.send(message)
      const [code, reason] = await closed
      assert.equal(code, 1002)
      assert.equal(reason, 'WK_PROTOCOL')
      assert.deepEqual(got, [])
      const client = await MessageClient.connect(url)
      assert.equal(await client.request('echo', 'still here'), 'still here')
      await client.close()
    })
  }

  test('MessageClient over ws:// agrees batches and delivers a turn of emits in order both ways', async () => {
    const sends = countSends()
    try {
      const client = await MessageClient.connect(url)
      const peer = peers[peers.length - 1]!
      const received: number[] = []
      client.on('m', (i: number) => received.push(i))
      got.length = 0
      sends.reset()
      await Promise.all(Array.from({ length: 500 }, (_, i) => client.emit('m', i)))
      assert.deepEqual(
        got,
        Array.from({ length: 500 }, (_, i) => i),
      )
      assert.ok(sends.client < 20, `${sends.client} client WebSocket messages for 500 emits`)
      sends.reset()
      await Promise.all(Array.from({ length: 500 }, (_, i) => peer.emit('m', i)))
      await waitFor(() => received.length === 500, 5000, '500 pushes')
      assert.deepEqual(
        received,
        Array.from({ length: 500 }, (_, i) => i),
      )
      assert.ok(sends.server < 20, `${sends.server} server WebSocket messages for 500 pushes`)
      await client.close()
    } finally {
      sends.restore()
    }
  })

  test('MessageClient with batch: false sends and receives one envelope per WebSocket message', async () => {
    const sends = countSends()
    try {
      const client = await MessageClient.connect(url, { batch: false })
      const peer = peers[peers.length - 1]!
      const received: number[] = []
      client.on('m', (i: number) => received.push(i))
      got.length = 0
      sends.reset()
      await Promise.all(Array.from({ length: 200 }, (_, i) => client.emit('m', i)))
      assert.ok(sends.client >= 200, `${sends.client} client WebSocket messages for 200 emits`)
      sends.reset()
      await Promise.all(Array.from({ length: 200 }, (_, i) => peer.emit('m', i)))
      await waitFor(() => received.length === 200, 5000, '200 pushes')
      assert.ok(sends.server >= 200, `${sends.server} server WebSocket messages for 200 pushes`)
      assert.deepEqual(
        received,
        Array.from({ length: 200 }, (_, i) => i),
      )
      await client.close()
    } finally {
      sends.restore()
    }
  })
})

/** Counts WebSocket messages `ws` sends, by side (its server sockets and its client sockets). */
function countSends() {
  const proto = WebSocket.prototype as unknown as { send: (...args: unknown[]) => void }
  const original = proto.send
  const counts = {
    client: 0,
    server: 0,
    reset() {
      counts.client = 0
      counts.server = 0
    },
    restore() {
      proto.send = original
    },
  }
  proto.send = function send(this: { _isServer: boolean }, ...args: unknown[]) {
    if (this._isServer) counts.server++
    else counts.client++
    return original.apply(this, args)
  }
  return counts
}
