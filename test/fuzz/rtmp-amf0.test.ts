// Fuzzing the AMF0 decoder: random bytes and encoded values with damage. Only ProtocolError
// WK_RTMP_AMF comes out; what encodes decodes back. 100k inputs by default; WIREKIT_FUZZ_RUNS sets
// the total (npm run fuzz).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { ErrorCodes, ProtocolError } from '../../src/errors.ts'
import { type AmfValue, decodeAmf0, encodeAmf0 } from '../../src/rtmp/index.ts'

const TOTAL_RUNS = Number(process.env.WIREKIT_FUZZ_RUNS ?? 100_000)

const key = fc.string({ minLength: 1, maxLength: 8 }).filter((k) => k !== '__proto__')
const value: fc.Arbitrary<AmfValue> = fc.letrec<{ v: AmfValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.double({ noNaN: true }),
    fc.boolean(),
    fc.string({ maxLength: 20 }),
    fc.constant(null),
    fc.constant(undefined),
    fc.array(tie('v'), { maxLength: 4 }),
    fc.dictionary(key, tie('v'), { maxKeys: 4, noNullPrototype: true }),
  ),
})).v

function decodeOrTypedError(bytes: Uint8Array): void {
  try {
    decodeAmf0(bytes)
  } catch (error) {
    if (!(error instanceof ProtocolError) || error.code !== ErrorCodes.RTMP_AMF) throw error
  }
}

test('AMF0: encoded values decode back', () => {
  fc.assert(
    fc.property(fc.array(value, { maxLength: 4 }), (values) => {
      assert.deepEqual(decodeAmf0(encodeAmf0(...values)), values)
    }),
    { numRuns: Math.ceil(TOTAL_RUNS * 0.2) },
  )
})

test('AMF0: random bytes give values or WK_RTMP_AMF, nothing else', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), decodeOrTypedError), {
    numRuns: Math.ceil(TOTAL_RUNS * 0.4),
  })
})

test('AMF0: damaged encodings give values or WK_RTMP_AMF, nothing else', () => {
  fc.assert(
    fc.property(
      fc.array(value, { minLength: 1, maxLength: 3 }),
      fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { minLength: 1, maxLength: 3 }),
      fc.nat(),
      (values, damage, truncate) => {
        const bytes = encodeAmf0(...values)
        for (const [at, v] of damage) if (bytes.length > 0) bytes[at % bytes.length] = v
        decodeOrTypedError(bytes.subarray(0, bytes.length - (truncate % 4)))
      },
    ),
    { numRuns: Math.ceil(TOTAL_RUNS * 0.4) },
  )
})
