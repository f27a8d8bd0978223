import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { ErrorCodes, InvalidArgumentError, ProtocolError } from '../../src/errors.ts'
import { fixedLength } from '../../src/framing/index.ts'
import { bytewise, decodeAll, pushAll, splitAt } from './decode.ts'

describe('fixedLength', () => {
  test('cuts the stream into frames of n bytes whatever the chunking', () => {
    const codec = fixedLength(3)
    const wire = Buffer.from('abcdefghi')
    const expected = ['abc', 'def', 'ghi'].map((s) => Buffer.from(s))
    assert.deepEqual(decodeAll(codec, [wire]), expected)
    assert.deepEqual(decodeAll(codec, bytewise(wire)), expected)
    for (let cut = 0; cut <= wire.length; cut++)
      assert.deepEqual(decodeAll(codec, splitAt(wire, [cut, cut + 4])), expected)
  })

  test('hands out frames inside one chunk as slices of it', () => {
    const chunk = Buffer.from('abcdef')
    const frames: Buffer[] = []
    fixedLength(2)
      .decoder()
      .push(chunk, (frame) => frames.push(frame))
    assert.equal(frames.length, 3)
    assert.ok(frames.every((f) => f.buffer === chunk.buffer))
  })

  test('end() throws WK_FRAME_TRUNCATED inside a frame', () => {
    const decoder = fixedLength(4).decoder()
    assert.equal(pushAll(decoder, [Buffer.from('abcdef')]).length, 1)
    assert.equal(decoder.buffered, 2)
    assert.throws(
      () => decoder.end(),
      (error) => error instanceof ProtocolError && error.code === ErrorCodes.FRAME_TRUNCATED,
    )
  })

  test('the encoder refuses a payload of another size, and the factory a size below 1', () => {
    const codec = fixedLength(4)
    assert.deepEqual(codec.encode(Buffer.from('abcd')), Buffer.from('abcd'))
    assert.throws(() => codec.encode(Buffer.from('abc')), InvalidArgumentError)
    assert.throws(() => codec.encode(Buffer.from('abcde')), InvalidArgumentError)
    assert.throws(() => fixedLength(0), InvalidArgumentError)
    assert.throws(() => fixedLength(2.5), InvalidArgumentError)
  })
})
