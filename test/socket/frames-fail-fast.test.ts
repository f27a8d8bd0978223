// frames() fails fast without losing what arrived whole: frames decoded before a bad one in the same
// chunk are yielded first, then the error ends the stream.
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { ErrorCodes, ProtocolError } from '../../src/errors.ts'
import { delimited, lengthField } from '../../src/framing/index.ts'
import { pairWithRaw, Resources } from './helpers.ts'

const resources = new Resources()
after(() => resources.closeAll())

test('frames() yields the whole frames of a chunk before the oversize header that follows them, then throws WK_FRAME_TOO_LARGE', async () => {
  const { client, peer } = await pairWithRaw(resources)
  const codec = lengthField({ lengthFieldLength: 4, maxFrameLength: 1024 })
  const oversize = Buffer.alloc(4)
  oversize.writeUInt32BE(1 << 20)
  // One write, so the three parts arrive in one chunk.
  peer.write(Buffer.concat([codec.encode(Buffer.from('a')), codec.encode(Buffer.from('b')), oversize]))
  const got: string[] = []
  await assert.rejects(
    async () => {
      for await (const frame of client.frames(codec)) got.push(frame.toString())
    },
    (error: unknown) => error instanceof ProtocolError && error.code === ErrorCodes.FRAME_TOO_LARGE,
  )
  assert.deepEqual(got, ['a', 'b'])
})

test('frames() with a delimiter yields the lines before an over-long one in the same chunk, then throws', async () => {
  const { client, peer } = await pairWithRaw(resources)
  const codec = delimited({ delimiter: '\n', maxFrameLength: 16 })
  peer.write(`one\ntwo\n${'x'.repeat(64)}\n`)
  const got: string[] = []
  await assert.rejects(
    async () => {
      for await (const frame of client.frames(codec)) got.push(frame.toString())
    },
    (error: unknown) => error instanceof ProtocolError && error.code === ErrorCodes.FRAME_TOO_LARGE,
  )
  assert.deepEqual(got, ['one', 'two'])
})
