import assert from 'node:assert/strict'
import net from 'node:net'
import { after, before, describe, test } from 'node:test'
import { lengthField } from '../../src/framing/index.ts'
import { MessageClient, type MessageServer } from '../../src/messaging/index.ts'
import { decodeEnvelope, Flag, Format, Kind, newEnvelope } from '../../src/messaging/wire/envelope.ts'
import { encodeFrame } from '../../src/messaging/wire/frame-writer.ts'
import { startServer } from './helpers.ts'

const codec = lengthField({ lengthFieldLength: 4, maxFrameLength: 1 << 20 })
const hello = encodeFrame(codec, Kind.HELLO, Format.JSON, { body: JSON.stringify({ v: 1, lastReceived: 0 }) })

type Outcome = { kinds: number[]; goaway: { code: string; reconnect: boolean } | undefined; closed: boolean }

/** Sends `chunks` (one write each, a short pause between), then collects frames until the server closes. */
async function converse(port: number, chunks: Buffer[], endAfter = false): Promise<Outcome> {
  const socket = net.connect({ host: '127.0.0.1', port })
  socket.on('error', () => {})
  await new Promise((r) => socket.once('connect', r))
  const received: Buffer[] = []
  socket.on('data', (d) => received.push(d))
  const closed = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 3000)
    socket.once('close', () => {
      clearTimeout(timer)
      resolve(true)
    })
  })
  for (const chunk of chunks) {
    socket.write(chunk)
    await new Promise((r) => setTimeout(r, 20))
  }
  if (endAfter) socket.end()
  const wasClosed = await closed
  socket.destroy()
  const kinds: number[] = []
  let goaway: Outcome['goaway']
  const envelope = newEnvelope()
  codec.decoder().push(Buffer.concat(received), (frame) => {
    const env = decodeEnvelope(frame, envelope)
    kinds.push(env.kind)
    if (env.kind === Kind.GOAWAY) goaway = JSON.parse(frame.toString('utf8', env.payloadStart))
  })
  return { kinds, goaway, closed: wasClosed }
}

function frame(bytes: number[]): Buffer {
  return codec.encode(Buffer.from(bytes))
}

describe('hostile frames', () => {
  let server: MessageServer
  let port: number
  let client: MessageClient

  before(async () => {
    const started = await startServer({ maxFrameLength: 4096, authTimeout: 2000 })
    server = started.server
    port = started.port
    server.handle('echo', (data) => data)
    client = await MessageClient.connect(started.url)
  })

  after(async () => {
    await client.close()
    await server.close()
  })

  test('an oversize length is answered with WK_FRAME_TOO_LARGE and a closed connection', async () => {
    const header = Buffer.alloc(4)
    header.writeUInt32BE(0x7fff_ffff)
    const outcome = await converse(port, [header])
    assert.equal(outcome.goaway?.code, 'WK_FRAME_TOO_LARGE')
    assert.equal(outcome.goaway?.reconnect, false)
    assert.ok(outcome.closed)
  })

  test('a garbage header (unknown kind) instead of HELLO is answered with WK_PROTOCOL', async () => {
    const outcome = await converse(port, [frame([200, 0, 1, 2, 3])])
    assert.equal(outcome.goaway?.code, 'WK_PROTOCOL')
    assert.ok(outcome.closed)
  })

  test('a HELLO with an unsupported version is refused with WK_PROTOCOL', async () => {
    const bad = encodeFrame(codec, Kind.HELLO, Format.JSON, {
      body: JSON.stringify({ v: 99, lastReceived: 0 }),
    })
    const outcome = await converse(port, [bad])
    assert.equal(outcome.goaway?.code, 'WK_PROTOCOL')
  })

  test('an unknown kind after the handshake is answered with WK_PROTOCOL', async () => {
    const outcome = await converse(port, [hello, frame([77, 0])])
    assert.equal(outcome.kinds[0], Kind.WELCOME)
    assert.equal(outcome.goaway?.code, 'WK_PROTOCOL')
    assert.ok(outcome.closed)
  })

  test('unknown flags, a truncated sequence and a sequence gap are protocol errors', async () => {
    for (const bad of [
      frame([Kind.EVENT, 0x80]),
      frame([Kind.EVENT, Flag.SEQ | Format.EMPTY, 1, 0]),
      encodeFrame(codec, Kind.EVENT, Format.EMPTY, { seq: 5, name: 'x' }),
    ]) {
      const outcome = await converse(port, [hello, bad])
      assert.equal(outcome.goaway?.code, 'WK_PROTOCOL')
      assert.ok(outcome.closed)
    }
  })

  test('a payload that is not JSON is a protocol error', async () => {
    const bad = encodeFrame(codec, Kind.EVENT, Format.JSON, { seq: 1, name: 'x', body: '{not json' })
    const outcome = await converse(port, [hello, bad])
    assert.equal(outcome.goaway?.code, 'WK_PROTOCOL')
  })

  test('a frame truncated by the end of the stream closes the connection', async () => {
    const partial = Buffer.from([0, 0, 0, 50, Kind.EVENT, 0])
    const outcome = await converse(port, [hello, partial], true)
    assert.ok(outcome.closed)
    assert.equal(outcome.goaway?.code, 'WK_FRAME_TRUNCATED')
  })

  test('a connection that never says HELLO is cut with WK_AUTH_TIMEOUT', async () => {
    const started = Date.now()
    const outcome = await converse(port, [])
    assert.equal(outcome.goaway?.code, 'WK_AUTH_TIMEOUT')
    assert.ok(Date.now() - started >= 1500)
  })

  test('a hostile client that keeps its side open after the GOAWAY is destroyed after a short linger', async () => {
    const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true })
    socket.on('error', () => {})
    socket.on('data', () => {})
    await new Promise((r) => socket.once('connect', r))
    const ended = new Promise((r) => socket.once('end', r)) // the server's FIN: deliberately not answered
    const closed = new Promise((r) => socket.once('close', r))
    socket.write(frame([200, 0]))
    await ended
    // After the linger the server has closed the socket for good: our bytes meet a reset (the first
    // write draws the RST, the next one fails on it).
    await new Promise((r) => setTimeout(r, 1500))
    for (let i = 0; i < 3 && !socket.destroyed; i++) {
      socket.write(Buffer.from([1, 2, 3, 4]))
      await new Promise((r) => setTimeout(r, 200))
    }
    const outcome = await Promise.race([
      closed.then(() => 'closed'),
      new Promise((r) => setTimeout(r, 2000, 'open')),
    ])
    assert.equal(outcome, 'closed')
    socket.destroy()
  })

  test('the server keeps serving other clients through all of it', async () => {
    assert.deepEqual(await client.request('echo', { still: 'here' }), { still: 'here' })
    assert.equal(server.peers.size, 1, 'hostile sessions were dropped, not retained')
  })
})
