// Memory of a partial frame follows the bytes received, not the length the peer announced; a decoder's
// limit can be lowered (a server before login) and is checked as soon as a length field is read.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ErrorCodes, ProtocolError } from '../../src/errors.ts'
import { lengthField } from '../../src/framing/index.ts'
import { bytewise, pushAll } from './decode.ts'

function header(length: number): Buffer {
  const out = Buffer.alloc(4)
  out.writeUInt32BE(length)
  return out
}

test('a header announcing 1 MiB reserves far less than 1 MiB until the bytes arrive', () => {
  const codec = lengthField({ lengthFieldLength: 4, maxFrameLength: 1 << 20 })
  const decoders = []
  const before = process.memoryUsage().arrayBuffers
  for (let i = 0; i < 200; i++) {
    const decoder = codec.decoder()
    decoder.push(Buffer.concat([header(1 << 20), Buffer.from('x')]), () => {})
    decoders.push(decoder)
  }
  const grown = process.memoryUsage().arrayBuffers - before
  // Allocating at the announced size would take 200 MiB; growing with the bytes takes ~16 KiB each.
  assert.ok(grown < 32 * 1024 * 1024, `200 partial frames hold ${grown} bytes`)
  assert.equal(decoders[0]!.buffered, 5)
})

test('a big frame arriving in small pieces is reassembled byte for byte as its buffer grows', () => {
  const codec = lengthField({ lengthFieldLength: 4, maxFrameLength: 1 << 20 })
  const payload = Buffer.alloc(300_000)
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff
  const wire = Buffer.concat([codec.encode(payload), codec.encode(Buffer.from('next'))])
  const chunks: Buffer[] = []
  for (let at = 0; at < wire.length; at += 1000) chunks.push(wire.subarray(at, at + 1000))
  const frames = pushAll(codec.decoder(), chunks)
  assert.equal(frames.length, 2)
  assert.ok(frames[0]!.equals(payload))
  assert.equal(frames[1]!.toString(), 'next')
  assert.deepEqual(pushAll(codec.decoder(), bytewise(codec.encode(Buffer.from('tiny')))).map(String), [
    'tiny',
  ])
})

test('a lowered maxFrameLength refuses a bigger frame at its header with WK_FRAME_TOO_LARGE; raising it back is capped at the codec’s', () => {
  const codec = lengthField({ lengthFieldLength: 4, maxFrameLength: 1 << 20 })
  const decoder = codec.decoder()
  decoder.maxFrameLength = 64 * 1024
  assert.deepEqual(pushAll(decoder, [codec.encode(Buffer.alloc(1000))]).length, 1)
  assert.throws(
    () => decoder.push(header(64 * 1024 + 1), () => {}),
    (error: unknown) => error instanceof ProtocolError && error.code === ErrorCodes.FRAME_TOO_LARGE,
  )
  const other = codec.decoder()
  other.maxFrameLength = 1 << 30
  assert.equal(other.maxFrameLength, 1 << 20)
})
