// Fuzzing the RTMP chunk reader: random bytes and valid chunk streams with a few bytes damaged, fed
// whole and in random splits. Only ProtocolError WK_RTMP_* codes come out, the same messages or error
// either way, and the bytes held never pass the cap. 100k inputs by default; WIREKIT_FUZZ_RUNS sets
// the total (npm run fuzz).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { ErrorCodes, ProtocolError } from '../../src/errors.ts'
import { ChunkReader, encodeChunks } from '../../src/rtmp/index.ts'

const TOTAL_RUNS = Number(process.env.WIREKIT_FUZZ_RUNS ?? 100_000)
const CODES: string[] = [ErrorCodes.RTMP_CHUNK, ErrorCodes.RTMP_MESSAGE_TOO_LARGE]
const LIMITS = { maxMessageSize: 4096, maxChunkStreams: 8, maxBufferedBytes: 6000 }

type Outcome = { messages: string[]; code: string | null; maxHeld: number }

function feed(pieces: Buffer[]): Outcome {
  const reader = new ChunkReader(LIMITS)
  const messages: string[] = []
  let maxHeld = 0
  try {
    for (const piece of pieces) {
      for (const m of reader.push(piece))
        messages.push(`${m.type}/${m.streamId}/${m.timestamp}/${m.payload.toString('hex')}`)
      maxHeld = Math.max(maxHeld, reader.bufferedBytes)
    }
    return { messages, code: null, maxHeld }
  } catch (error) {
    if (!(error instanceof ProtocolError) || !CODES.includes(error.code)) throw error
    const before = (
      error as ProtocolError & {
        messages: { type: number; streamId: number; timestamp: number; payload: Buffer }[]
      }
    ).messages
    for (const m of before)
      messages.push(`${m.type}/${m.streamId}/${m.timestamp}/${m.payload.toString('hex')}`)
    return { messages, code: error.code, maxHeld }
  }
}

function cut(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
  const pieces: Buffer[] = []
  let from = 0
  for (const p of points) {
    if (p > from) pieces.push(bytes.subarray(from, p))
    from = Math.max(from, p)
  }
  if (from < bytes.length) pieces.push(bytes.subarray(from))
  return pieces
}

const message = fc.record({
  type: fc.constantFrom(1, 2, 3, 4, 5, 6, 8, 9, 18, 20, 0x77),
  streamId: fc.nat({ max: 3 }),
  timestamp: fc.oneof(fc.nat({ max: 1000 }), fc.constant(0xffffff), fc.nat()),
  payload: fc.uint8Array({ maxLength: 400 }),
  csid: fc.constantFrom(2, 3, 4, 63, 64, 319, 320, 1000),
  chunkSize: fc.constantFrom(1, 16, 128, 4096),
})

const input = fc.record({
  random: fc.boolean(),
  bytes: fc.uint8Array({ maxLength: 600 }),
  messages: fc.array(message, { maxLength: 5 }),
  damage: fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { maxLength: 3 }),
  cuts: fc.array(fc.nat({ max: 3000 }), { maxLength: 10 }),
})

function build(
  i: fc.Arbitrary<unknown> extends never ? never : typeof input extends fc.Arbitrary<infer T> ? T : never,
): Buffer {
  if (i.random) return Buffer.from(i.bytes)
  // Valid chunks (each message written with the chunk size the reader starts at: 128), then damaged.
  const bytes = Buffer.concat(
    i.messages.map((m) => encodeChunks(m.type, m.streamId, m.timestamp, m.payload, m.csid, 128)),
  )
  for (const [at, value] of i.damage) if (bytes.length > 0) bytes[at % bytes.length] = value
  return bytes
}

test('the chunk reader: only WK_RTMP_* protocol errors, split-independent, bounded', () => {
  fc.assert(
    fc.property(input, (i) => {
      const bytes = build(i)
      const whole = feed([bytes])
      const split = feed(cut(bytes, i.cuts))
      assert.deepEqual(split.messages, whole.messages)
      assert.equal(split.code, whole.code)
      assert.ok(split.maxHeld <= LIMITS.maxBufferedBytes + 18, `held ${split.maxHeld}`)
    }),
    { numRuns: TOTAL_RUNS },
  )
})
