// Property tests: for random frames, layouts and chunkings, every codec decodes exactly what was encoded.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { delimited, fixedLength, type LengthFieldOptions, lengthField } from '../../src/framing/index.ts'
import { bytewise, decodeAll, splitAt } from './decode.ts'

const RUNS = 300

const cuts = fc.array(fc.nat({ max: 4000 }), { maxLength: 20 })

const lengthLayout = fc.record({
  lengthFieldOffset: fc.integer({ min: 0, max: 5 }),
  lengthFieldLength: fc.constantFrom(1, 2, 3, 4, 8) as fc.Arbitrary<1 | 2 | 3 | 4 | 8>,
  lengthAdjustment: fc.integer({ min: -12, max: 0 }),
  byteOrder: fc.constantFrom('big', 'little') as fc.Arbitrary<'big' | 'little'>,
})

/** Applies `check` to the stream whole, byte by byte and split at `points`. */
function everyChunking(wire: Buffer, points: number[], check: (chunks: Buffer[]) => void): void {
  check([wire])
  check(bytewise(wire))
  check(splitAt(wire, points))
}

test('lengthField gives back the encoded payloads for any layout and any chunking', () => {
  fc.assert(
    fc.property(
      lengthLayout,
      fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 12 }),
      cuts,
      (layout, payloads, points) => {
        const codec = lengthField({ ...layout, maxFrameLength: 1000 })
        const wire = Buffer.concat(payloads.map((p) => codec.encode(p)))
        const expected = payloads.map((p) => Buffer.from(p))
        everyChunking(wire, points, (chunks) => assert.deepEqual(decodeAll(codec, chunks), expected))
      },
    ),
    { numRuns: RUNS },
  )
})

test('lengthField with initialBytesToStrip inside the header gives back the wire frames minus the stripped bytes', () => {
  fc.assert(
    fc.property(
      lengthLayout,
      fc.nat({ max: 13 }),
      fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 8 }),
      cuts,
      (layout, stripSeed, payloads, points) => {
        const header = layout.lengthFieldOffset + layout.lengthFieldLength
        const options: LengthFieldOptions = { ...layout, initialBytesToStrip: stripSeed % (header + 1) }
        const codec = lengthField(options)
        const frames = payloads.map((p) => codec.encode(p))
        const expected = frames.map((f) => f.subarray(options.initialBytesToStrip))
        everyChunking(Buffer.concat(frames), points, (chunks) =>
          assert.deepEqual(decodeAll(codec, chunks), expected),
        )
      },
    ),
    { numRuns: RUNS },
  )
})

test('delimited gives back the encoded payloads for any delimiter and any chunking', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 1, maxLength: 4 }),
      fc.boolean(),
      fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 12 }),
      cuts,
      (delimiter, stripDelimiter, candidates, points) => {
        const codec = delimited({ delimiter, stripDelimiter, maxFrameLength: 200 })
        // Keep the payloads the encoder accepts (no delimiter inside): the others are refused by design.
        const encoded: Buffer[] = []
        const payloads: Buffer[] = []
        for (const p of candidates) {
          try {
            encoded.push(codec.encode(p))
            payloads.push(Buffer.from(p))
          } catch {}
        }
        const expected = stripDelimiter ? payloads : encoded
        everyChunking(Buffer.concat(encoded), points, (chunks) =>
          assert.deepEqual(decodeAll(codec, chunks), expected),
        )
      },
    ),
    { numRuns: RUNS },
  )
})

test('fixedLength gives back frames of its size for any chunking', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 40 }), fc.nat({ max: 30 }), cuts, (size, count, points) => {
      const codec = fixedLength(size)
      const payloads = Array.from({ length: count }, (_, i) => Buffer.alloc(size, i))
      const wire = Buffer.concat(payloads.map((p) => codec.encode(p)))
      everyChunking(wire, points, (chunks) => assert.deepEqual(decodeAll(codec, chunks), payloads))
    }),
    { numRuns: RUNS },
  )
})
