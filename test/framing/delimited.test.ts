import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { ErrorCodes, InvalidArgumentError, ProtocolError } from '../../src/errors.ts'
import { type DelimitedOptions, delimited } from '../../src/framing/index.ts'
import { bytewise, decodeAll, pushAll, splitAt } from './decode.ts'

function protocolError(code: string) {
  return (error: unknown) => error instanceof ProtocolError && error.code === code
}
function invalidArgument(error: unknown): boolean {
  return error instanceof InvalidArgumentError && error.code === ErrorCodes.INVALID_ARGUMENT
}
const text = (frames: Buffer[]): string[] => frames.map((f) => f.toString('latin1'))
const bytes = (s: string): Buffer => Buffer.from(s, 'latin1')

describe('delimited decoder', () => {
  test('splits on a line feed and strips it by default', () => {
    const codec = delimited({ delimiter: '\n' })
    assert.deepEqual(text(decodeAll(codec, [bytes('one\ntwo\n\nthree\n')])), ['one', 'two', '', 'three'])
  })

  test('keeps the delimiter when stripDelimiter is false', () => {
    const codec = delimited({ delimiter: '\r\n', stripDelimiter: false })
    assert.deepEqual(text(decodeAll(codec, bytewise(bytes('a\r\nbc\r\n')))), ['a\r\n', 'bc\r\n'])
  })

  test('finds a multi-byte delimiter at every split point of the stream', () => {
    const codec = delimited({ delimiter: '\r\n' })
    const wire = bytes('GET /\r\nHost: x\r\n\r\n')
    for (let cut = 0; cut <= wire.length; cut++) {
      for (let cut2 = cut; cut2 <= wire.length; cut2 += 3) {
        assert.deepEqual(
          text(decodeAll(codec, splitAt(wire, [cut, cut2]))),
          ['GET /', 'Host: x', ''],
          `${cut}/${cut2}`,
        )
      }
    }
  })

  test('takes the earliest match when the delimiter overlaps itself', () => {
    const codec = delimited({ delimiter: 'aab' })
    const wire = bytes('xaaabyaab')
    assert.deepEqual(text(decodeAll(codec, [wire])), ['xa', 'y'])
    assert.deepEqual(text(decodeAll(codec, bytewise(wire))), ['xa', 'y'])
    for (let cut = 0; cut <= wire.length; cut++) {
      assert.deepEqual(text(decodeAll(codec, splitAt(wire, [cut]))), ['xa', 'y'], `cut at ${cut}`)
    }
  })

  test('accepts a binary delimiter given as bytes', () => {
    const codec = delimited({ delimiter: Uint8Array.of(0) })
    assert.deepEqual(decodeAll(codec, [Buffer.from([1, 2, 0, 3, 0])]), [
      Buffer.from([1, 2]),
      Buffer.from([3]),
    ])
  })

  test('hands out a frame that lies in one chunk as a slice of that chunk', () => {
    const chunk = bytes('hello\nworld\n')
    const frames: Buffer[] = []
    delimited({ delimiter: '\n' })
      .decoder()
      .push(chunk, (frame) => frames.push(frame))
    assert.deepEqual(text(frames), ['hello', 'world'])
    assert.ok(frames.every((f) => f.buffer === chunk.buffer && f.byteOffset >= chunk.byteOffset))
  })

  test('accepts a frame of exactly maxFrameLength and refuses one byte more with WK_FRAME_TOO_LARGE', () => {
    const codec = delimited({ delimiter: '\n', maxFrameLength: 4 })
    assert.deepEqual(text(decodeAll(codec, [bytes('abcd\n')])), ['abcd'])
    assert.deepEqual(text(decodeAll(codec, bytewise(bytes('abcd\n')))), ['abcd'])
    assert.throws(() => decodeAll(codec, [bytes('abcde\n')]), protocolError(ErrorCodes.FRAME_TOO_LARGE))
    assert.throws(
      () => decodeAll(codec, bytewise(bytes('abcde\n'))),
      protocolError(ErrorCodes.FRAME_TOO_LARGE),
    )
  })

  test('refuses a frame as soon as maxFrameLength bytes arrive without a delimiter, holding no more', () => {
    const codec = delimited({ delimiter: '\r\n', maxFrameLength: 8 })
    const decoder = codec.decoder()
    let thrown: unknown
    let pushed = 0
    for (let i = 0; i < 100 && thrown === undefined; i++) {
      try {
        decoder.push(bytes('\r'), () => assert.fail('no frame expected'))
        pushed++
        assert.ok(decoder.buffered <= 8 + 1, `buffered ${decoder.buffered}`)
      } catch (error) {
        thrown = error
      }
    }
    assert.ok(protocolError(ErrorCodes.FRAME_TOO_LARGE)(thrown))
    assert.equal(pushed, 9, 'eight bytes of content plus one possible delimiter start')
  })

  test('end() throws WK_FRAME_TRUNCATED when bytes without a delimiter are pending', () => {
    const decoder = delimited({ delimiter: '\n' }).decoder()
    assert.deepEqual(text(pushAll(decoder, [bytes('done\npartial')])), ['done'])
    assert.equal(decoder.buffered, 7)
    assert.throws(() => decoder.end(), protocolError(ErrorCodes.FRAME_TRUNCATED))
  })

  test('finds the end of a long frame arriving one byte per chunk in linear time', {
    timeout: 30_000,
  }, () => {
    // Rescanning the pending bytes on every push would need ~5·10^11 byte comparisons here.
    const size = 1 << 20
    const codec = delimited({ delimiter: '\r\n', maxFrameLength: size })
    const decoder = codec.decoder()
    const one = Buffer.of(0x78)
    const frames: Buffer[] = []
    for (let i = 0; i < size; i++) decoder.push(one, () => assert.fail('no frame yet'))
    decoder.push(bytes('\r\n'), (frame) => frames.push(frame))
    assert.equal(frames.length, 1)
    assert.equal(frames[0]!.length, size)
    assert.equal(frames[0]!.indexOf(0x0d), -1)
    decoder.end()
  })
})

describe('delimited encoder', () => {
  test('appends the delimiter, and encodeInto packs frames back to back', () => {
    const codec = delimited({ delimiter: '\r\n' })
    assert.deepEqual(codec.encode(bytes('hi')), bytes('hi\r\n'))
    const target = Buffer.alloc(codec.encodedLength(1) + codec.encodedLength(2))
    const middle = codec.encodeInto(bytes('a'), target, 0)
    assert.equal(middle, 3)
    assert.equal(codec.encodeInto(bytes('bc'), target, middle), target.length)
    assert.deepEqual(target, bytes('a\r\nbc\r\n'))
  })

  test('refuses a payload containing the delimiter or ending with its beginning', () => {
    const codec = delimited({ delimiter: 'aa' })
    assert.throws(() => codec.encode(bytes('xaay')), invalidArgument)
    // 'xa' + 'aa' would decode as 'x' followed by a stray 'a'.
    assert.throws(() => codec.encode(bytes('xa')), invalidArgument)
    assert.deepEqual(codec.encode(bytes('xb')), bytes('xbaa'))
  })

  test('refuses a payload above maxFrameLength with WK_FRAME_TOO_LARGE', () => {
    const codec = delimited({ delimiter: '\n', maxFrameLength: 3 })
    assert.throws(() => codec.encode(bytes('abcd')), protocolError(ErrorCodes.FRAME_TOO_LARGE))
  })
})

describe('delimited options', () => {
  test('refuse a missing, empty or oversized delimiter and bad limits with WK_INVALID_ARGUMENT', () => {
    const bad: unknown[] = [
      {},
      { delimiter: '' },
      { delimiter: 10 },
      { delimiter: 'x'.repeat(257) },
      { delimiter: '\n', maxFrameLength: -1 },
      { delimiter: '\n', stripDelimiter: 'yes' },
    ]
    for (const options of bad) {
      assert.throws(() => delimited(options as DelimitedOptions), invalidArgument, JSON.stringify(options))
    }
  })
})
