// Aggregate messages (type 22): split into their audio, video and data messages by the protocol core
// (bytes in), with bounds checks; and end to end, a publisher's aggregate reaches a player as tags.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import fc from 'fast-check'
import { ErrorCodes, ProtocolError, type WirekitError } from '../../src/errors.ts'
import {
  clientAck,
  clientHello,
  encodeAmf0,
  encodeChunks,
  encodeFlvTag,
  type FlvTag,
  RtmpClient,
  RtmpServer,
  splitAggregate,
} from '../../src/rtmp/index.ts'
import { AsyncSocket } from '../../src/socket/index.ts'
import { until } from '../interop/rtmp-tools.ts'
import { aacConfig, aacFrame, avcConfig, avcFrame, hex } from './fixtures.ts'

/** An aggregate payload: the tags as FLV tags (header, body, back pointer), timestamps as given. */
const aggregateOf = (tags: FlvTag[]): Buffer =>
  Buffer.concat(tags.map((t) => encodeFlvTag(t.type, t.timestamp, t.data)))
const message = (payload: Buffer, timestamp = 0) => ({ type: 22, streamId: 1, timestamp, payload })

test('an aggregate splits into its messages: first at the aggregate timestamp, the others at their offsets', () => {
  const tags = [avcFrame(5000, true), aacFrame(5010), avcFrame(5040, false)]
  const got = splitAggregate(message(aggregateOf(tags), 200))
  assert.deepEqual(
    got.map((m) => [m.type, m.streamId, m.timestamp, m.payload.toString('hex')]),
    [
      [9, 1, 200, tags[0]!.data.toString('hex')],
      [8, 1, 210, tags[1]!.data.toString('hex')],
      [9, 1, 240, tags[2]!.data.toString('hex')],
    ],
  )
})

test('an extended (upper 8 bits) sub-message timestamp and a 32-bit wrap are handled', () => {
  const payload = aggregateOf([avcFrame(0x01000000, true), avcFrame(0x01000028, false)])
  const got = splitAggregate(message(payload, 0xffffffff))
  assert.deepEqual(
    got.map((m) => m.timestamp),
    [0xffffffff, 39],
  )
})

test('the back pointer after the last sub-message may be missing', () => {
  const payload = aggregateOf([aacFrame(0), aacFrame(20)])
  assert.equal(splitAggregate(message(payload.subarray(0, payload.length - 4))).length, 2)
})

test('commands and nested aggregates inside an aggregate are dropped', () => {
  const payload = Buffer.concat([
    encodeFlvTag(20, 0, encodeAmf0('connect', 1, null)),
    encodeFlvTag(22, 0, aggregateOf([aacFrame(0)])),
    encodeFlvTag(8, 0, aacFrame(0).data),
  ])
  assert.deepEqual(
    splitAggregate(message(payload)).map((m) => m.type),
    [8],
  )
})

test('a sub-message size past the end is WK_RTMP_CHUNK, checked before anything is read or allocated', () => {
  const payload = aggregateOf([aacFrame(0)])
  payload.writeUIntBE(0xffffff, 1, 3)
  assert.throws(
    () => splitAggregate(message(payload)),
    (e: WirekitError) =>
      e instanceof ProtocolError && e.code === ErrorCodes.RTMP_CHUNK && /past the end/.test(e.message),
  )
})

test('a truncated sub-message header is WK_RTMP_CHUNK', () => {
  const payload = Buffer.concat([aggregateOf([aacFrame(0)]), Buffer.from('0800')])
  assert.throws(
    () => splitAggregate(message(payload)),
    (e: WirekitError) => e.code === ErrorCodes.RTMP_CHUNK,
  )
})

test('random aggregate payloads give sub-messages inside the payload or WK_RTMP_CHUNK, never another error', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.array(fc.nat(60), { maxLength: 4 }), (bytes, sizes) => {
      // Half random bytes; half plausible headers with random sizes, so the bounds checks are reached.
      const parts: Buffer[] = [Buffer.from(bytes)]
      for (const size of sizes) {
        const header = Buffer.alloc(11)
        header[0] = 9
        header.writeUIntBE(size, 1, 3)
        parts.push(header, Buffer.from(bytes.subarray(0, size % 40)), Buffer.alloc(4))
      }
      const payload = Buffer.concat(parts.slice(bytes.length % 2))
      try {
        for (const m of splitAggregate(message(payload))) {
          assert.equal(m.payload.buffer, payload.buffer)
          assert.ok(m.payload.byteOffset + m.payload.length <= payload.byteOffset + payload.length)
        }
      } catch (error) {
        assert.equal((error as WirekitError).code, ErrorCodes.RTMP_CHUNK)
      }
    }),
    { numRuns: 20_000 },
  )
})

// ---- end to end: a publisher that sends aggregates (written here; ffmpeg and nginx-rtmp do not) ----

const server = new RtmpServer({ handshakeTimeout: 3000 })
let port = 0
const errors: WirekitError[] = []
before(async () => {
  port = (await server.listen({ port: 0 })).port
  server.on('sessionError', (e) => errors.push(e))
})
after(() => server.close())

/** Handshakes, connects, creates stream 1 and publishes `key` with commands written by hand. */
async function rawPublisher(key: string): Promise<AsyncSocket> {
  const socket = await AsyncSocket.connect({ host: '127.0.0.1', port })
  await socket.write(clientHello())
  await socket.write(clientAck(await socket.read({ length: 3073 })))
  const cmd = (streamId: number, ...values: Parameters<typeof encodeAmf0>) =>
    encodeChunks(20, streamId, 0, encodeAmf0(...values), 3, 128)
  await socket.write(cmd(0, 'connect', 1, { app: 'live', tcUrl: `rtmp://127.0.0.1:${port}/live` }))
  await socket.write(cmd(0, 'createStream', 2, null))
  await socket.write(cmd(1, 'publish', 3, null, key, 'live'))
  let seen = ''
  while (!seen.includes('NetStream.Publish.Start'))
    seen += (await socket.read({ timeout: 5000 })).toString('latin1')
  return socket
}

test('a published aggregate reaches a player as its tags, byte-exact, at their timestamps (the first at the aggregate timestamp)', async () => {
  const publisher = await rawPublisher('agg')
  const player = await RtmpClient.play(`rtmp://127.0.0.1:${port}/live/agg`)
  const tags = [avcConfig(), aacConfig(), avcFrame(1000, true), aacFrame(1010), avcFrame(1040, false)]
  const payload = aggregateOf(tags)
  await publisher.write(encodeChunks(22, 1, 1000, payload, 4, 128))
  const got: FlvTag[] = []
  for await (const tag of player.tags()) if (got.push(tag) === tags.length) break
  assert.deepEqual(hex(got), hex(tags.map((t) => ({ ...t, timestamp: t.timestamp + 1000 }))))
  player.close()
  publisher.destroy()
})

test('a hostile aggregate ends only its own session with WK_RTMP_CHUNK', async () => {
  const publisher = await rawPublisher('hostile')
  const before = errors.length
  const payload = aggregateOf([avcFrame(0, true)])
  payload.writeUIntBE(0xfffff0, 1, 3)
  await publisher.write(encodeChunks(22, 1, 0, payload, 4, 128))
  await assert.rejects(async () => {
    for (;;) await publisher.read({ timeout: 5000 })
  })
  publisher.destroy()
  await until(() => errors.length > before, 5000, 'the session error')
  assert.equal(errors.at(-1)!.code, ErrorCodes.RTMP_CHUNK)
  const other = await RtmpClient.publish(`rtmp://127.0.0.1:${port}/live/after`)
  await other.close()
})
