// The chunk stream core, fed bytes: header types 0-3, extended timestamps (also on type-3
// continuation chunks), 1/2/3-byte chunk stream ids, Set Chunk Size, Abort, acknowledgements both
// ways, ping, and the limits that refuse hostile numbers before anything is allocated for them.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ErrorCodes, ProtocolError } from '../../src/errors.ts'
import { ChunkReader, ChunkStream, encodeChunks, MessageType, UserControl } from '../../src/rtmp/index.ts'

const bytes = (hex: string) => Buffer.from(hex.replace(/\s+/g, ''), 'hex')

/** Pushes `input` one byte at a time and whole; both must give the same messages. */
function readBoth(input: Buffer, make = () => new ChunkReader()) {
  const whole = make().push(input)
  const reader = make()
  const split = []
  for (let i = 0; i < input.length; i++) split.push(...reader.push(input.subarray(i, i + 1)))
  assert.deepEqual(
    split.map((m) => ({ ...m, payload: m.payload.toString('hex') })),
    whole.map((m) => ({ ...m, payload: m.payload.toString('hex') })),
  )
  return whole
}

test('type 0, 1, 2 and 3 headers: absolute timestamp, then deltas, lengths and stream ids carried over', () => {
  const input = Buffer.concat([
    bytes('04 000064 000003 09 01000000 aabbcc'), // fmt 0: ts 100, len 3, video, stream 1
    bytes('44 00000a 000002 09 ddee'), // fmt 1: +10, len 2
    bytes('84 000005 ff01'), // fmt 2: +5, same length
    bytes('c4 1122'), // fmt 3 new message: +5 again
  ])
  const got = readBoth(input)
  assert.deepEqual(
    got.map((m) => [m.type, m.streamId, m.timestamp, m.payload.toString('hex')]),
    [
      [9, 1, 100, 'aabbcc'],
      [9, 1, 110, 'ddee'],
      [9, 1, 115, 'ff01'],
      [9, 1, 120, '1122'],
    ],
  )
})

test('a message longer than the chunk size continues in type-3 chunks', () => {
  const payload = Buffer.alloc(300, 7)
  const encoded = encodeChunks(8, 1, 40, payload, 4, 128)
  assert.equal(encoded.length, 12 + 300 + 2)
  const [message] = readBoth(encoded)
  assert.deepEqual(message!.payload, payload)
})

test('extended timestamps: on the header and repeated on type-3 continuation chunks', () => {
  const payload = Buffer.alloc(200, 1)
  const ts = 0x01234567
  const encoded = encodeChunks(9, 1, ts, payload, 6, 128)
  // 1 + 11 + 4 header, 128 bytes, then 1 + 4 continuation header, 72 bytes
  assert.equal(encoded.length, 16 + 128 + 5 + 72)
  assert.equal(encoded.readUInt32BE(12), ts)
  assert.equal(encoded.readUInt32BE(16 + 128 + 1), ts)
  const [message] = readBoth(encoded)
  assert.equal(message!.timestamp, ts)
  assert.deepEqual(message!.payload, payload)
})

test('chunk stream ids in all three basic header sizes', () => {
  for (const csid of [2, 63, 64, 319, 320, 65599]) {
    const encoded = encodeChunks(20, 0, 0, Buffer.from('hi'), csid, 128)
    const expectedBasic = csid < 64 ? 1 : csid < 320 ? 2 : 3
    assert.equal(encoded.length, expectedBasic + 11 + 2, `csid ${csid}`)
    const [message] = readBoth(encoded)
    assert.equal(message!.payload.toString(), 'hi')
  }
})

test('Set Chunk Size applies to the bytes right after it', () => {
  const payload = Buffer.alloc(1000, 3)
  const input = Buffer.concat([
    encodeChunks(1, 0, 0, bytes('00001000'), 2, 128),
    encodeChunks(9, 1, 0, payload, 6, 4096),
  ])
  const reader = new ChunkReader()
  const got = reader.push(input)
  assert.equal(reader.chunkSize, 4096)
  assert.deepEqual(got[1]!.payload, payload)
})

test('Abort drops the unfinished message of a chunk stream', () => {
  const first = encodeChunks(9, 1, 0, Buffer.alloc(300, 1), 6, 128)
  const partial = first.subarray(0, 12 + 128) // first chunk only
  const abort = encodeChunks(2, 0, 0, bytes('00000006'), 2, 128)
  const next = encodeChunks(9, 1, 40, Buffer.from('ok'), 6, 128)
  const reader = new ChunkReader()
  const got = reader.push(Buffer.concat([partial, abort, next]))
  assert.deepEqual(
    got.map((m) => m.type),
    [MessageType.ABORT, MessageType.VIDEO],
  )
  assert.equal(got[1]!.payload.toString(), 'ok')
  assert.equal(reader.bufferedBytes, 0)
})

function rejects(input: Buffer, code: string, reader = new ChunkReader()) {
  assert.throws(
    () => reader.push(input),
    (e) => e instanceof ProtocolError && e.code === code,
  )
  // Once broken, always broken: no state is trusted after an error.
  assert.throws(
    () => reader.push(Buffer.of(0)),
    (e) => e instanceof ProtocolError && e.code === code,
  )
}

test('a chunk size of 2^31 (top bit set) or 0 is refused with WK_RTMP_CHUNK', () => {
  rejects(encodeChunks(1, 0, 0, bytes('80000000'), 2, 128), ErrorCodes.RTMP_CHUNK)
  rejects(encodeChunks(1, 0, 0, bytes('00000000'), 2, 128), ErrorCodes.RTMP_CHUNK)
})

test('a 16 MB message is refused from its header, before its bytes arrive or are allocated', () => {
  const header = bytes('06 000000 ffffff 09 01000000') // length 16,777,215
  const reader = new ChunkReader()
  rejects(header, ErrorCodes.RTMP_MESSAGE_TOO_LARGE, reader)
  assert.equal(reader.bufferedBytes, 0)
})

test('unfinished messages across many chunk streams are capped in total', () => {
  const reader = new ChunkReader({ maxMessageSize: 1000, maxBufferedBytes: 500 })
  const parts: Buffer[] = []
  for (let csid = 3; csid < 10; csid++)
    parts.push(encodeChunks(9, 1, 0, Buffer.alloc(900), csid, 128).subarray(0, 12 + 128))
  assert.throws(
    () => reader.push(Buffer.concat(parts)),
    (e) => (e as ProtocolError).code === ErrorCodes.RTMP_MESSAGE_TOO_LARGE,
  )
})

test('too many chunk streams, or a type-2/3 chunk on a stream never seen, is WK_RTMP_CHUNK', () => {
  const reader = new ChunkReader({ maxChunkStreams: 4 })
  const many = Buffer.concat(
    [3, 4, 5, 6, 7].map((csid) => encodeChunks(20, 0, 0, Buffer.from('x'), csid, 128)),
  )
  assert.throws(
    () => reader.push(many),
    (e) => (e as ProtocolError).code === ErrorCodes.RTMP_CHUNK,
  )
  rejects(bytes('c5 00'), ErrorCodes.RTMP_CHUNK)
  rejects(bytes('85 000001'), ErrorCodes.RTMP_CHUNK)
})

test('ChunkStream acknowledges once the peer window is reached, and answers pings', () => {
  const core = new ChunkStream()
  core.receive(encodeChunks(5, 0, 0, bytes('00000100'), 2, 128)) // window 256 bytes
  assert.equal(core.take(), undefined)
  core.receive(encodeChunks(9, 1, 0, Buffer.alloc(100), 6, 128))
  assert.equal(core.take(), undefined, 'not yet: 16 + 112 bytes')
  core.receive(encodeChunks(9, 1, 0, Buffer.alloc(200), 6, 128))
  const ack = new ChunkReader().push(core.take()!)
  assert.equal(ack[0]!.type, MessageType.ACKNOWLEDGEMENT)
  assert.equal(ack[0]!.payload.readUInt32BE(0), core.reader.bytesReceived)
  const ping = Buffer.alloc(6)
  ping.writeUInt16BE(UserControl.PING_REQUEST, 0)
  ping.writeUInt32BE(1234, 2)
  assert.deepEqual(core.receive(encodeChunks(4, 0, 0, ping, 2, 128)), [])
  const pong = new ChunkReader().push(core.take()!)[0]!
  assert.equal(pong.payload.readUInt16BE(0), UserControl.PING_RESPONSE)
  assert.equal(pong.payload.readUInt32BE(2), 1234)
})

test('ChunkStream: Set Peer Bandwidth is answered with a Window Ack Size; the peer acknowledgement is kept', () => {
  const core = new ChunkStream()
  core.receive(encodeChunks(6, 0, 0, bytes('0026 25a0 02'), 2, 128))
  const [answer] = new ChunkReader().push(core.take()!)
  assert.equal(answer!.type, MessageType.WINDOW_ACK_SIZE)
  assert.equal(answer!.payload.readUInt32BE(0), 2_500_000)
  core.receive(encodeChunks(3, 0, 0, bytes('00001000'), 2, 128))
  assert.equal(core.acknowledgedByPeer, 4096)
})
