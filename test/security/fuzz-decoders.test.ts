// Fuzzing what a server does with a client's first frame and with MessagePack payloads (issue 10): the
// HELLO path (envelope, accepted format, size and depth caps, payload, parseHello) and the event path
// (envelope, payload) only ever throw ProtocolError WK_PROTOCOL, never hang, and whatever they hand the
// application can be forwarded as JSON (no BigInt, no cycle, no exotic type).
// WIREKIT_FUZZ_RUNS=<n> sets the total (100k by default; `npm run fuzz` runs 1M).
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import fc from 'fast-check'
import { Packr } from 'msgpackr'
import { ErrorCodes, ProtocolError } from '../../src/errors.ts'
import { lengthField } from '../../src/framing/index.ts'
import {
  decodeEnvelope,
  type Envelope,
  Format,
  Kind,
  newEnvelope,
} from '../../src/messaging/wire/envelope.ts'
import { encodeFrame } from '../../src/messaging/wire/frame-writer.ts'
import { checkHelloFrame, DEFAULT_MAX_HELLO_LENGTH, parseHello } from '../../src/messaging/wire/handshake.ts'
import { decodePayload, refusedFormat } from '../../src/messaging/wire/payload-codec.ts'

const TOTAL_RUNS = Number(process.env.WIREKIT_FUZZ_RUNS ?? 100_000)
const MAX_INPUT_MS = 1000
const codec = lengthField({ lengthFieldLength: 4, maxFrameLength: 1 << 20 })
const out: Envelope = newEnvelope()
// An attacker's packer: every extension msgpackr knows (structured clone, records, dates, sets, BigInt...).
const hostile = new Packr({ structuredClone: true, moreTypes: true, useRecords: true })
let slowest = 0
let inputs = 0

after(() => {
  console.log(`decoder fuzz: ${inputs} inputs, slowest ${slowest.toFixed(1)} ms`)
  assert.ok(slowest < MAX_INPUT_MS, `one input took ${slowest.toFixed(0)} ms`)
})

function timed(fn: () => void): void {
  const started = performance.now()
  inputs++
  try {
    fn()
  } catch (error) {
    if (!(error instanceof ProtocolError) || error.code !== ErrorCodes.PROTOCOL) throw error
  } finally {
    slowest = Math.max(slowest, performance.now() - started)
  }
}

/** The server's HELLO path, as the greeter runs it. */
function receiveHello(frame: Buffer, acceptsMsgpack: boolean): void {
  const env = decodeEnvelope(frame, out)
  if (env.format === Format.MSGPACK && !acceptsMsgpack) throw refusedFormat(env.format)
  checkHelloFrame(frame, env.payloadStart, env.format === Format.JSON, DEFAULT_MAX_HELLO_LENGTH)
  parseHello(decodePayload(frame, env.payloadStart, env.format))
}

/** The event path: what reaches a listener must survive the README's forwarding (JSON re-encoding). */
function receiveEvent(frame: Buffer): void {
  const env = decodeEnvelope(frame, out)
  const data = decodePayload(frame, env.payloadStart, env.format)
  JSON.stringify(data) // a throw here (BigInt, cycle) would be the crash of issue 10
}

const cyclic = fc.anything({ maxDepth: 3 }).map((value) => {
  const node: Record<string, unknown> = { value }
  node.self = node
  return node
})
const value = fc.oneof(
  fc.anything({
    maxDepth: 3,
    withBigInt: true,
    withDate: true,
    withMap: true,
    withSet: true,
    withTypedArray: true,
  }),
  fc.bigInt(),
  cyclic,
  fc.record({
    v: fc.constant(1),
    lastReceived: fc.nat(),
    session: fc.string(),
    token: fc.string(),
    credentials: fc.anything({ maxDepth: 2, withBigInt: true }),
  }),
)
const mutation = fc.tuple(fc.nat(), fc.nat({ max: 255 }))
// Generating and packing arbitrary values costs far more than decoding them: a pool of packed hostile
// values (seeded, so a failure replays) is mutated per run instead.
const POOL_SIZE = 4096
const pool = fc
  .sample(value, { numRuns: POOL_SIZE, seed: 10 })
  .map((v) => ({ msgpack: packed(v, []), json: Buffer.from(safeJson(v)) }))
const pick = fc.nat({ max: POOL_SIZE - 1 })

function mutated(bytes: Buffer, mutations: [number, number][]): Buffer {
  if (mutations.length === 0 || bytes.length === 0) return bytes
  const copy = Buffer.from(bytes)
  for (const [at, byte] of mutations) copy[at % copy.length] = byte
  return copy
}

function packed(v: unknown, mutations: [number, number][]): Buffer {
  let bytes: Buffer
  try {
    bytes = Buffer.from(hostile.pack(v))
  } catch {
    bytes = Buffer.from([0xc1]) // never used by MessagePack
  }
  for (const [at, byte] of mutations) if (bytes.length > 0) bytes[at % bytes.length] = byte
  return bytes
}

test('HELLO frames with MessagePack, JSON or random bodies give a HELLO or WK_PROTOCOL, nothing else', {
  timeout: 120_000,
}, () => {
  fc.assert(
    fc.property(
      pick,
      fc.array(mutation, { maxLength: 3 }),
      fc.constantFrom(Format.MSGPACK, Format.JSON, Format.RAW),
      fc.boolean(),
      (i, mutations, format, acceptsMsgpack) => {
        const entry = pool[i]!
        const body = mutated(format === Format.JSON ? entry.json : entry.msgpack, mutations)
        const frame = encodeFrame(codec, Kind.HELLO, format, { body })
        timed(() => receiveHello(frame.subarray(4), acceptsMsgpack))
      },
    ),
    { numRuns: Math.ceil(TOTAL_RUNS * 0.4) },
  )
})

test('event frames with hostile MessagePack bodies decode to JSON-safe data or fail with WK_PROTOCOL', {
  timeout: 120_000,
}, () => {
  fc.assert(
    fc.property(pick, fc.array(mutation, { maxLength: 4 }), (i, mutations) => {
      const body = mutated(pool[i]!.msgpack, mutations)
      const frame = encodeFrame(codec, Kind.EVENT, Format.MSGPACK, { seq: 1, name: 'chat', body })
      timed(() => receiveEvent(frame.subarray(4)))
    }),
    { numRuns: Math.ceil(TOTAL_RUNS * 0.6) },
  )
})

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? 'null'
  } catch {
    return '{"v":1,"lastReceived":0,"credentials":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}'
  }
}
