import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { ErrorCodes, InvalidArgumentError, ProtocolError } from '../../src/errors.ts'
import { type LengthFieldOptions, lengthField } from '../../src/framing/index.ts'
import { bytewise, decodeAll, hex, pushAll } from './decode.ts'

const HELLO = Buffer.from('HELLO, WORLD')

function protocolError(code: string) {
  return (error: unknown) => error instanceof ProtocolError && error.code === code
}
/** True when two views share bytes of the same memory. */
function overlaps(a: Buffer, b: Buffer): boolean {
  return (
    a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.length && b.byteOffset < a.byteOffset + a.length
  )
}
function invalidArgument(error: unknown): boolean {
  return error instanceof InvalidArgumentError && error.code === ErrorCodes.INVALID_ARGUMENT
}

// The seven layouts documented on Netty's LengthFieldBasedFrameDecoder, with its example bytes.
const nettyExamples: { name: string; options: LengthFieldOptions; wire: Buffer; frame: Buffer }[] = [
  {
    name: '2-byte length, nothing stripped',
    options: { lengthFieldLength: 2, initialBytesToStrip: 0 },
    wire: Buffer.concat([hex('000C'), HELLO]),
    frame: Buffer.concat([hex('000C'), HELLO]),
  },
  {
    name: '2-byte length, header stripped',
    options: { lengthFieldLength: 2, initialBytesToStrip: 2 },
    wire: Buffer.concat([hex('000C'), HELLO]),
    frame: HELLO,
  },
  {
    name: '2-byte length counting the header (adjustment -2)',
    options: { lengthFieldLength: 2, lengthAdjustment: -2, initialBytesToStrip: 0 },
    wire: Buffer.concat([hex('000E'), HELLO]),
    frame: Buffer.concat([hex('000E'), HELLO]),
  },
  {
    name: '3-byte length at the end of a 5-byte header',
    options: { lengthFieldOffset: 2, lengthFieldLength: 3, initialBytesToStrip: 0 },
    wire: Buffer.concat([hex('CAFE 00000C'), HELLO]),
    frame: Buffer.concat([hex('CAFE 00000C'), HELLO]),
  },
  {
    name: '3-byte length at the start of a 5-byte header (adjustment 2)',
    options: { lengthFieldLength: 3, lengthAdjustment: 2, initialBytesToStrip: 0 },
    wire: Buffer.concat([hex('00000C CAFE'), HELLO]),
    frame: Buffer.concat([hex('00000C CAFE'), HELLO]),
  },
  {
    name: '2-byte length in the middle of a 4-byte header, first 3 bytes stripped',
    options: { lengthFieldOffset: 1, lengthFieldLength: 2, lengthAdjustment: 1, initialBytesToStrip: 3 },
    wire: Buffer.concat([hex('CA 000C FE'), HELLO]),
    frame: Buffer.concat([hex('FE'), HELLO]),
  },
  {
    name: '2-byte length counting the whole 4-byte header, first 3 bytes stripped',
    options: { lengthFieldOffset: 1, lengthFieldLength: 2, lengthAdjustment: -3, initialBytesToStrip: 3 },
    wire: Buffer.concat([hex('CA 0010 FE'), HELLO]),
    frame: Buffer.concat([hex('FE'), HELLO]),
  },
]

describe('lengthField decodes Netty’s documented layouts', () => {
  for (const example of nettyExamples) {
    test(`${example.name}: whole, byte by byte and twice in a row`, () => {
      const codec = lengthField(example.options)
      assert.deepEqual(decodeAll(codec, [example.wire]), [example.frame])
      assert.deepEqual(decodeAll(codec, bytewise(example.wire)), [example.frame])
      assert.deepEqual(decodeAll(codec, [Buffer.concat([example.wire, example.wire])]), [
        example.frame,
        example.frame,
      ])
    })
  }
})

describe('lengthField encoder', () => {
  test('defaults to a 4-byte big-endian length and payload-only frames', () => {
    const codec = lengthField()
    const wire = codec.encode(HELLO)
    assert.deepEqual(wire, Buffer.concat([hex('0000000C'), HELLO]))
    assert.deepEqual(decodeAll(codec, [wire]), [HELLO])
  })

  test('writes every width in both byte orders, and the decoder reads it back', () => {
    const payload = Buffer.alloc(300, 7)
    const expected: Record<number, [string, string]> = {
      2: ['012C', '2C01'],
      3: ['00012C', '2C0100'],
      4: ['0000012C', '2C010000'],
      8: ['000000000000012C', '2C01000000000000'],
    }
    for (const width of [2, 3, 4, 8] as const) {
      for (const [i, byteOrder] of (['big', 'little'] as const).entries()) {
        const codec = lengthField({ lengthFieldLength: width, byteOrder })
        const wire = codec.encode(payload)
        assert.deepEqual(wire.subarray(0, width), hex(expected[width]![i]!), `${width} ${byteOrder}`)
        assert.deepEqual(decodeAll(codec, bytewise(wire)), [payload])
      }
    }
  })

  test('zero-fills the bytes before an offset length field and subtracts the adjustment', () => {
    const codec = lengthField({ lengthFieldOffset: 2, lengthFieldLength: 2, lengthAdjustment: -4 })
    assert.deepEqual(codec.encode(HELLO), Buffer.concat([hex('0000 0010'), HELLO]))
    assert.equal(codec.encodedLength(HELLO.length), 16)
  })

  test('encodeInto coalesces several frames into one buffer and returns each end offset', () => {
    const codec = lengthField({ lengthFieldLength: 2 })
    const payloads = [Buffer.from('a'), Buffer.alloc(0), Buffer.from('bcd')]
    const target = Buffer.alloc(payloads.reduce((n, p) => n + codec.encodedLength(p.length), 0))
    let offset = 0
    for (const p of payloads) offset = codec.encodeInto(p, target, offset)
    assert.equal(offset, target.length)
    assert.deepEqual(target, hex('0001 61 0000 0003 626364'))
    assert.deepEqual(decodeAll(codec, [target]), payloads)
  })

  test('refuses a payload above maxFrameLength with WK_FRAME_TOO_LARGE', () => {
    const codec = lengthField({ maxFrameLength: 10 })
    assert.equal(codec.encode(Buffer.alloc(10)).length, 14)
    assert.throws(() => codec.encode(Buffer.alloc(11)), protocolError(ErrorCodes.FRAME_TOO_LARGE))
  })

  test('refuses a payload whose length does not fit the field with WK_FRAME_TOO_LARGE', () => {
    const codec = lengthField({ lengthFieldLength: 1 })
    assert.equal(codec.encode(Buffer.alloc(255)).length, 256)
    assert.throws(() => codec.encode(Buffer.alloc(256)), protocolError(ErrorCodes.FRAME_TOO_LARGE))
  })

  test('refuses a payload shorter than a positive adjustment, and a target without room', () => {
    const codec = lengthField({ lengthFieldLength: 2, lengthAdjustment: 2 })
    assert.throws(() => codec.encode(Buffer.alloc(1)), invalidArgument)
    assert.throws(() => lengthField().encodeInto(HELLO, Buffer.alloc(15), 0), invalidArgument)
    assert.throws(() => lengthField().encodeInto(HELLO, Buffer.alloc(40), 30), invalidArgument)
  })
})

describe('lengthField decoder', () => {
  test('hands out a frame that lies in one chunk as a slice of that chunk', () => {
    const codec = lengthField()
    const chunk = Buffer.concat([codec.encode(HELLO), codec.encode(HELLO)])
    const frames: Buffer[] = []
    codec.decoder().push(chunk, (frame) => frames.push(frame))
    assert.equal(frames.length, 2)
    for (const frame of frames) {
      assert.ok(overlaps(frame, chunk), 'the frame must be a view into the chunk')
      assert.deepEqual(frame, HELLO)
    }
    assert.equal(frames[1]!.byteOffset, chunk.byteOffset + 16 + 4)
  })

  test('assembles a frame that spans chunks into its own buffer of exactly the frame size', () => {
    const codec = lengthField()
    const wire = codec.encode(Buffer.alloc(10_000, 3))
    const first = wire.subarray(0, 5000)
    const frames: Buffer[] = []
    const decoder = codec.decoder()
    decoder.push(first, (frame) => frames.push(frame))
    assert.equal(decoder.buffered, 5000)
    decoder.push(wire.subarray(5000), (frame) => frames.push(frame))
    assert.equal(frames.length, 1)
    assert.equal(frames[0]!.length, 10_000)
    assert.ok(!overlaps(frames[0]!, wire), 'the assembled frame must not alias the chunk')
    assert.deepEqual(frames[0], Buffer.alloc(10_000, 3))
    assert.equal(decoder.buffered, 0)
  })

  test('refuses an oversize length as soon as the length field is read, before the body arrives', () => {
    const decoder = lengthField({ maxFrameLength: 1024 }).decoder()
    decoder.push(hex('0000'), () => assert.fail('no frame expected'))
    assert.throws(() => decoder.push(hex('0401'), () => {}), protocolError(ErrorCodes.FRAME_TOO_LARGE))
  })

  test('refuses an 8-byte length beyond 2^53 with WK_FRAME_TOO_LARGE', () => {
    const codec = lengthField({ lengthFieldLength: 8 })
    assert.throws(
      () => decodeAll(codec, [hex('FFFFFFFFFFFFFFFF 00')]),
      protocolError(ErrorCodes.FRAME_TOO_LARGE),
    )
  })

  test('accepts a frame of exactly maxFrameLength bytes after the length field', () => {
    const codec = lengthField({ lengthFieldLength: 2, maxFrameLength: 5 })
    assert.deepEqual(decodeAll(codec, [hex('0005 0102030405')]), [hex('0102030405')])
  })

  test('reports a length smaller than the adjustment can cover as WK_FRAME_CORRUPT', () => {
    const codec = lengthField({ lengthFieldLength: 2, lengthAdjustment: -2 })
    assert.throws(() => decodeAll(codec, [hex('0001 FF')]), protocolError(ErrorCodes.FRAME_CORRUPT))
  })

  test('reports a frame shorter than initialBytesToStrip as WK_FRAME_CORRUPT', () => {
    const codec = lengthField({ lengthFieldLength: 1, initialBytesToStrip: 4 })
    assert.throws(() => decodeAll(codec, [hex('01 AA')]), protocolError(ErrorCodes.FRAME_CORRUPT))
    assert.deepEqual(decodeAll(codec, [hex('03 AABBCC')]), [Buffer.alloc(0)])
  })

  test('strips part of the body when initialBytesToStrip is past the header, even across chunks', () => {
    const codec = lengthField({ lengthFieldLength: 1, initialBytesToStrip: 3 })
    assert.deepEqual(decodeAll(codec, bytewise(hex('04 AABBCCDD'))), [hex('CCDD')])
  })

  test('end() throws WK_FRAME_TRUNCATED inside a header or a body, and nothing between frames', () => {
    const codec = lengthField()
    for (const partial of [hex('00'), hex('00000005 AABB')]) {
      const decoder = codec.decoder()
      pushAll(decoder, [partial])
      assert.equal(decoder.buffered, partial.length)
      assert.throws(() => decoder.end(), protocolError(ErrorCodes.FRAME_TRUNCATED))
    }
    const decoder = codec.decoder()
    pushAll(decoder, [codec.encode(HELLO)])
    decoder.end()
  })

  test('stays failed after a protocol error: later pushes throw the same error', () => {
    const decoder = lengthField({ maxFrameLength: 4 }).decoder()
    let first: unknown
    try {
      decoder.push(hex('00000005'), () => {})
    } catch (error) {
      first = error
    }
    assert.ok(first instanceof ProtocolError)
    assert.throws(
      () => decoder.push(hex('00000000'), () => {}),
      (error) => error === first,
    )
  })

  test('decodes zero-length frames, alone and mixed with others', () => {
    const codec = lengthField({ lengthFieldLength: 2 })
    assert.deepEqual(decodeAll(codec, bytewise(hex('0000 0000 0001 AA 0000'))), [
      Buffer.alloc(0),
      Buffer.alloc(0),
      hex('AA'),
      Buffer.alloc(0),
    ])
  })
})

describe('lengthField options', () => {
  test('refuse impossible values at construction with WK_INVALID_ARGUMENT', () => {
    const bad: unknown[] = [
      { lengthFieldLength: 5 },
      { lengthFieldLength: 0 },
      { lengthFieldOffset: -1 },
      { lengthFieldOffset: 1.5 },
      { byteOrder: 'middle' },
      { maxFrameLength: -1 },
      { maxFrameLength: Number.NaN },
      { initialBytesToStrip: -1 },
      { lengthAdjustment: 0.5 },
    ]
    for (const options of bad) {
      assert.throws(
        () => lengthField(options as LengthFieldOptions),
        invalidArgument,
        JSON.stringify(options),
      )
    }
  })
})
