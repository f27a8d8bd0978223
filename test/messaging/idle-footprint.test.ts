// What keeps an idle connection small (issue 3) on the messaging side: connections take their bytes
// from the socket as they arrive (no read pending per connection), and share one frame decoder until
// a frame of theirs arrives split across chunks. These tests check that the sharing never mixes the
// bytes of two connections and that a split frame still assembles, or is reported when cut short.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import net from 'node:net'
import { after, before, describe, test } from 'node:test'
import { lengthField } from '../../src/framing/index.ts'
import { MessageClient, type MessageServer, type Peer } from '../../src/messaging/index.ts'
import { decodeEnvelope, Format, Kind, newEnvelope } from '../../src/messaging/wire/envelope.ts'
import { encodeFrame } from '../../src/messaging/wire/frame-writer.ts'
import { startServer, waitFor } from './helpers.ts'

const codec = lengthField({ lengthFieldLength: 4, maxFrameLength: 1 << 20 })
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** A hand-driven client: raw TCP speaking the wire protocol, so a test decides how frames are split. */
async function rawClient(port: number): Promise<{ socket: net.Socket; kinds: number[] }> {
  const socket = net.connect({ host: '127.0.0.1', port })
  socket.on('error', () => {})
  await once(socket, 'connect')
  const kinds: number[] = []
  const decoder = codec.decoder()
  const envelope = newEnvelope()
  socket.on('data', (chunk: Buffer) =>
    decoder.push(chunk, (frame) => kinds.push(decodeEnvelope(frame, envelope).kind)),
  )
  socket.write(
    encodeFrame(codec, Kind.HELLO, Format.JSON, { body: JSON.stringify({ v: 1, lastReceived: 0 }) }),
  )
  await waitFor(() => kinds.includes(Kind.WELCOME), 5000, 'WELCOME')
  return { socket, kinds }
}

function event(seq: number, text: string): Buffer {
  return encodeFrame(codec, Kind.EVENT, Format.JSON, { seq, name: 'm', body: JSON.stringify(text) })
}

describe('connections sharing a frame decoder', () => {
  let server: MessageServer
  let port: number
  const received = new Map<Peer, string[]>()

  before(async () => {
    const started = await startServer()
    server = started.server
    port = started.port
    server.on('connection', (peer: Peer) => {
      const list: string[] = []
      received.set(peer, list)
      peer.on('m', (text: string) => list.push(text))
    })
  })
  after(() => server.close())

  test('frames split across chunks on some connections and whole on others all arrive intact', async () => {
    const split = [await rawClient(port), await rawClient(port)]
    const client = await MessageClient.connect(`tcp://127.0.0.1:${port}`, { reconnect: false })
    try {
      const ROUNDS = 6
      for (let seq = 1; seq <= ROUNDS; seq++) {
        // Each split client sends its frame in three pieces, interleaved with the other's pieces and
        // with whole frames from the regular client, so every connection reads while others hold a
        // partial frame.
        const frames = split.map((_, i) => event(seq, `split ${i} #${seq} ${'x'.repeat(seq * 40)}`))
        const cuts = [3, 11]
        for (let piece = 0; piece < 3; piece++) {
          for (const [i, { socket }] of split.entries()) {
            const from = piece === 0 ? 0 : cuts[piece - 1]!
            const to = piece === 2 ? frames[i]!.length : cuts[piece]!
            socket.write(frames[i]!.subarray(from, to))
          }
          await client.emit('m', `whole #${seq}`)
          await pause(5)
        }
      }
      const lists = [...received.values()]
      await waitFor(() => lists.reduce((n, list) => n + list.length, 0) === ROUNDS * 5, 5000, 'all messages')
      const sorted = lists.map((list) => list.join('|')).sort()
      const expected = [
        ...[0, 1].map((i) =>
          Array.from({ length: ROUNDS }, (_, r) => `split ${i} #${r + 1} ${'x'.repeat((r + 1) * 40)}`).join(
            '|',
          ),
        ),
        Array.from({ length: ROUNDS }, (_, r) => Array(3).fill(`whole #${r + 1}`))
          .flat()
          .join('|'),
      ].sort()
      assert.deepEqual(sorted, expected)
    } finally {
      await client.close()
      for (const { socket } of split) socket.destroy()
    }
  })

  test('a connection that ends inside a split frame is reported as truncated; the others carry on', async () => {
    const cut = await rawClient(port)
    const other = await rawClient(port)
    const [cutPeer, otherPeer] = [...received.keys()].slice(-2)
    const reasons: unknown[] = []
    // A protocol error ends the session ('close'), it is not retained for a resume.
    cutPeer!.on('close', (error: unknown) => reasons.push(error))
    const frame = event(1, 'never finished')
    cut.socket.write(frame.subarray(0, 7))
    await pause(20)
    other.socket.write(event(1, 'complete'))
    cut.socket.end()
    await waitFor(() => reasons.length === 1, 5000, "the cut peer's close")
    assert.equal((reasons[0] as { code?: string }).code, 'WK_FRAME_TRUNCATED')
    await waitFor(() => received.get(otherPeer!)!.length === 1, 5000, "the other peer's message")
    assert.deepEqual(received.get(otherPeer!), ['complete'])
    cut.socket.destroy()
    other.socket.destroy()
  })
})
