// Fuzzing the frame decoders: random and mutated byte streams, random chunkings, random layouts.
// Each decoder is checked against a whole-buffer reference decoder written plainly below: same frames,
// only ProtocolError frame codes thrown, and `buffered` never above maxFrameLength + header.
// Runs 100k inputs by default; WIREKIT_FUZZ_RUNS=<n> sets the total (npm run fuzz).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { ErrorCodes, ProtocolError } from '../../src/errors.ts'
import {
  delimited,
  type FrameCodec,
  fixedLength,
  type LengthFieldOptions,
  lengthField,
} from '../../src/framing/index.ts'

const TOTAL_RUNS = Number(process.env.WIREKIT_FUZZ_RUNS ?? 100_000)
const FRAME_CODES: string[] = [
  ErrorCodes.FRAME_TOO_LARGE,
  ErrorCodes.FRAME_CORRUPT,
  ErrorCodes.FRAME_TRUNCATED,
]

type Outcome = { frames: Buffer[]; code: string | null }

// ---- inputs -------------------------------------------------------------------------------------

const mutation = fc.record({
  kind: fc.constantFrom('flip', 'set', 'insert', 'delete', 'duplicate', 'truncate'),
  at: fc.nat(),
  length: fc.integer({ min: 1, max: 16 }),
  bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
})
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never

/** A stream: random bytes, or valid frames of `codec` damaged by a few mutations. */
const stream = fc.record({
  random: fc.boolean(),
  bytes: fc.uint8Array({ maxLength: 600 }),
  payloads: fc.array(fc.uint8Array({ maxLength: 120 }), { maxLength: 8 }),
  mutations: fc.array(mutation, { maxLength: 4 }),
  cuts: fc.array(fc.nat({ max: 800 }), { maxLength: 12 }),
  bytewise: fc.boolean(),
})
type Stream = typeof stream extends fc.Arbitrary<infer T> ? T : never

function mutate(input: Buffer, mutations: Mutation[]): Buffer {
  let bytes = input
  for (const m of mutations) {
    const at = bytes.length === 0 ? 0 : m.at % bytes.length
    switch (m.kind) {
      case 'flip':
        if (bytes.length > 0) bytes[at] = bytes[at]! ^ (1 << (m.length % 8))
        break
      case 'set':
        bytes = Buffer.concat([bytes.subarray(0, at), m.bytes, bytes.subarray(at + m.bytes.length)])
        break
      case 'insert':
        bytes = Buffer.concat([bytes.subarray(0, at), m.bytes, bytes.subarray(at)])
        break
      case 'delete':
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + m.length)])
        break
      case 'duplicate':
        bytes = Buffer.concat([bytes.subarray(0, at + m.length), bytes.subarray(at)])
        break
      case 'truncate':
        bytes = bytes.subarray(0, at)
        break
    }
  }
  return bytes
}

function wireOf(codec: FrameCodec, s: Stream): Buffer {
  if (s.random) return Buffer.from(s.bytes)
  const frames: Buffer[] = []
  for (const p of s.payloads) {
    try {
      frames.push(codec.encode(p))
    } catch {} // payloads the encoder refuses (too large, containing the delimiter) are simply left out
  }
  return mutate(Buffer.concat(frames), s.mutations)
}

function chunksOf(wire: Buffer, s: Stream): Buffer[] {
  if (s.bytewise) return Array.from(wire, (b) => Buffer.of(b))
  const points = [...new Set(s.cuts.map((c) => Math.min(c, wire.length)))].sort((a, b) => a - b)
  const chunks: Buffer[] = []
  let from = 0
  for (const to of [...points, wire.length]) {
    chunks.push(Buffer.from(wire.subarray(from, to)))
    from = to
  }
  return chunks
}

// ---- the decoder under test -----------------------------------------------------------------------

/** Runs the incremental decoder; any throw other than a frame ProtocolError fails the property. */
function decodeIncrementally(codec: FrameCodec, chunks: Buffer[], bound: number, maxFrame: number): Outcome {
  const decoder = codec.decoder()
  const frames: Buffer[] = []
  const onFrame = (frame: Buffer): void => {
    assert.ok(frame.length <= maxFrame, `frame of ${frame.length} bytes exceeds ${maxFrame}`)
    frames.push(Buffer.from(frame))
  }
  try {
    for (const chunk of chunks) {
      decoder.push(chunk, onFrame)
      assert.ok(decoder.buffered <= bound, `buffered ${decoder.buffered} exceeds ${bound}`)
    }
    decoder.end()
    return { frames, code: null }
  } catch (error) {
    if (!(error instanceof ProtocolError) || !FRAME_CODES.includes(error.code)) throw error
    return { frames, code: error.code }
  }
}

// ---- reference decoders: whole buffer, no state, obviously right -------------------------------------

function referenceLengthField(wire: Buffer, o: Required<LengthFieldOptions>): Outcome {
  const header = o.lengthFieldOffset + o.lengthFieldLength
  const frames: Buffer[] = []
  let pos = 0
  for (;;) {
    if (pos === wire.length) return { frames, code: null }
    if (wire.length - pos < header) return { frames, code: ErrorCodes.FRAME_TRUNCATED }
    const at = pos + o.lengthFieldOffset
    let value: bigint
    if (o.lengthFieldLength === 8) {
      value = o.byteOrder === 'big' ? wire.readBigUInt64BE(at) : wire.readBigUInt64LE(at)
    } else {
      const n =
        o.byteOrder === 'big'
          ? wire.readUIntBE(at, o.lengthFieldLength)
          : wire.readUIntLE(at, o.lengthFieldLength)
      value = BigInt(n)
    }
    const body = value + BigInt(o.lengthAdjustment)
    if (body < 0n) return { frames, code: ErrorCodes.FRAME_CORRUPT }
    if (body > BigInt(o.maxFrameLength)) return { frames, code: ErrorCodes.FRAME_TOO_LARGE }
    const frameLength = header + Number(body)
    if (o.initialBytesToStrip > frameLength) return { frames, code: ErrorCodes.FRAME_CORRUPT }
    if (wire.length - pos < frameLength) return { frames, code: ErrorCodes.FRAME_TRUNCATED }
    frames.push(wire.subarray(pos + o.initialBytesToStrip, pos + frameLength))
    pos += frameLength
  }
}

function referenceDelimited(wire: Buffer, delimiter: Buffer, max: number, strip: boolean): Outcome {
  const frames: Buffer[] = []
  let pos = 0
  for (let at = wire.indexOf(delimiter, pos); at >= 0; at = wire.indexOf(delimiter, pos)) {
    if (at - pos > max) return { frames, code: ErrorCodes.FRAME_TOO_LARGE }
    frames.push(wire.subarray(pos, strip ? at : at + delimiter.length))
    pos = at + delimiter.length
  }
  if (pos === wire.length) return { frames, code: null }
  // Without a delimiter the decoder may call the rest too large (it can tell early) or truncated: both end the stream.
  return { frames, code: 'TOO_LARGE_OR_TRUNCATED' }
}

function referenceFixed(wire: Buffer, size: number): Outcome {
  const frames: Buffer[] = []
  let pos = 0
  for (; wire.length - pos >= size; pos += size) frames.push(wire.subarray(pos, pos + size))
  return { frames, code: pos === wire.length ? null : ErrorCodes.FRAME_TRUNCATED }
}

function assertSameOutcome(actual: Outcome, expected: Outcome): void {
  assert.deepEqual(actual.frames, expected.frames)
  if (expected.code === 'TOO_LARGE_OR_TRUNCATED') {
    assert.ok(
      actual.code === ErrorCodes.FRAME_TOO_LARGE || actual.code === ErrorCodes.FRAME_TRUNCATED,
      `${actual.code}`,
    )
  } else {
    assert.equal(actual.code, expected.code)
  }
}

// ---- properties ---------------------------------------------------------------------------------------

const lengthOptions = fc
  .record({
    lengthFieldOffset: fc.integer({ min: 0, max: 4 }),
    lengthFieldLength: fc.constantFrom(1, 2, 3, 4, 8) as fc.Arbitrary<1 | 2 | 3 | 4 | 8>,
    lengthAdjustment: fc.integer({ min: -20, max: 20 }),
    byteOrder: fc.constantFrom('big', 'little') as fc.Arbitrary<'big' | 'little'>,
    maxFrameLength: fc.integer({ min: 0, max: 300 }),
    stripSeed: fc.nat({ max: 40 }),
  })
  .map(({ stripSeed, ...o }): Required<LengthFieldOptions> => {
    const header = o.lengthFieldOffset + o.lengthFieldLength
    // initialBytesToStrip past header + maxFrameLength is refused at construction: stay within it.
    const strip = stripSeed % 3 === 0 ? header : stripSeed % (header + 8)
    return { ...o, initialBytesToStrip: Math.min(strip, header + o.maxFrameLength) }
  })

test('lengthField decoders survive random and mutated streams and agree with the reference', () => {
  fc.assert(
    fc.property(lengthOptions, stream, (options, s) => {
      const codec = lengthField(options)
      const wire = wireOf(codec, s)
      const header = options.lengthFieldOffset + options.lengthFieldLength
      const bound = header + options.maxFrameLength
      const actual = decodeIncrementally(codec, chunksOf(wire, s), bound, bound)
      assertSameOutcome(actual, referenceLengthField(wire, options))
    }),
    { numRuns: Math.ceil(TOTAL_RUNS * 0.4) },
  )
})

test('delimited decoders survive random and mutated streams and agree with the reference', () => {
  const delimiters = fc.oneof(
    fc.constantFrom('\n', '\r\n', '\0', 'aa', 'aab', 'abab'),
    fc.uint8Array({ minLength: 1, maxLength: 4 }).map((b) => Buffer.from(b).toString('latin1')),
  )
  fc.assert(
    fc.property(delimiters, fc.integer({ min: 0, max: 300 }), fc.boolean(), stream, (text, max, strip, s) => {
      const delimiter = Buffer.from(text, 'latin1')
      const codec = delimited({ delimiter, maxFrameLength: max, stripDelimiter: strip })
      const wire = wireOf(codec, s)
      const bound = max + delimiter.length
      const actual = decodeIncrementally(codec, chunksOf(wire, s), bound - 1, bound)
      assertSameOutcome(actual, referenceDelimited(wire, delimiter, max, strip))
    }),
    { numRuns: Math.ceil(TOTAL_RUNS * 0.4) },
  )
})

test('fixedLength decoders survive random streams and agree with the reference', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 64 }), stream, (size, s) => {
      const codec = fixedLength(size)
      const wire = Buffer.from(s.bytes)
      const actual = decodeIncrementally(codec, chunksOf(wire, s), size - 1, size)
      assertSameOutcome(actual, referenceFixed(wire, size))
    }),
    { numRuns: Math.ceil(TOTAL_RUNS * 0.2) },
  )
})
