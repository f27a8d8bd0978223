import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { ErrorCodes, isWirekitError, ProtocolError } from '../../src/errors.ts'
import { lengthField } from '../../src/framing/index.ts'
import { Outbox, type OutboxEntry } from '../../src/messaging/session/outbox.ts'
import { decodeEnvelope, Flag, Format, Kind, newEnvelope } from '../../src/messaging/wire/envelope.ts'
import { encodeFrame } from '../../src/messaging/wire/frame-writer.ts'
import { decodePayload } from '../../src/messaging/wire/payload-codec.ts'

const codec = lengthField({ lengthFieldLength: 4 })

function unframe(buf: Buffer): Buffer {
  const frames: Buffer[] = []
  codec.decoder().push(buf, (f) => frames.push(Buffer.from(f)))
  assert.equal(frames.length, 1)
  return frames[0]!
}

describe('envelope', () => {
  test('every header field round-trips, including sequence numbers beyond 32 bits', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(Kind.EVENT, Kind.REQUEST, Kind.RESPONSE, Kind.ERROR),
        fc.integer({ min: 1, max: 2 ** 48 - 1 }),
        fc.integer({ min: 0, max: 2 ** 48 - 1 }),
        fc.integer({ min: 1, max: 2 ** 32 - 1 }),
        fc.string({ minLength: 1, maxLength: 60 }),
        fc.jsonValue(),
        (kind, seq, ack, id, name, data) => {
          const body = JSON.stringify(data)
          const frame = unframe(encodeFrame(codec, kind, Format.JSON, { seq, ack, id, name, body }))
          const env = decodeEnvelope(frame, newEnvelope())
          assert.equal(env.kind, kind)
          assert.equal(env.seq, seq)
          assert.equal(env.ack, ack)
          assert.equal(env.id, id)
          assert.equal(env.name, name)
          assert.deepEqual(decodePayload(frame, env.payloadStart, env.format), JSON.parse(body))
        },
      ),
      { numRuns: 300 },
    )
  })

  test('random bytes never throw anything but a ProtocolError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 40 }), (bytes) => {
        const frame = Buffer.from(bytes)
        try {
          const env = decodeEnvelope(frame, newEnvelope())
          decodePayload(frame, env.payloadStart, env.format)
        } catch (error) {
          assert.ok(error instanceof ProtocolError, String(error))
        }
      }),
      { numRuns: 2000 },
    )
  })

  test('malformed headers are refused with WK_PROTOCOL', () => {
    const cases = [
      [],
      [Kind.EVENT],
      [0, 0],
      [13, 0],
      [Kind.EVENT, 0x40],
      [Kind.EVENT, Flag.SEQ, 1, 2],
      [Kind.EVENT, Flag.NAME, 5, 97],
    ]
    for (const bytes of cases) {
      assert.throws(
        () => decodeEnvelope(Buffer.from(bytes), newEnvelope()),
        (e) => isWirekitError(e, ErrorCodes.PROTOCOL),
        JSON.stringify(bytes),
      )
    }
  })
})

describe('outbox', () => {
  const entry = (seq: number, size = 10): OutboxEntry => ({
    seq,
    kind: Kind.EVENT,
    flags: Flag.SEQ,
    id: 0,
    name: 'e',
    format: Format.EMPTY,
    body: undefined,
    bodyBytes: 0,
    size,
    settle: Promise.withResolvers<void>(),
  })

  test('a cumulative ack resolves every entry up to it, in one go', async () => {
    const outbox = new Outbox()
    const entries = Array.from({ length: 5 }, (_, i) => entry(i + 1))
    for (const e of entries) outbox.push(e)
    assert.equal(outbox.ack(3), 3)
    await Promise.all(entries.slice(0, 3).map((e) => e.settle!.promise))
    assert.equal(outbox.count, 2)
    assert.equal(outbox.bytes, 20)
  })

  test('isFull enforces both the count and the byte limit', () => {
    const outbox = new Outbox({ maxMessages: 3, maxBytes: 100 })
    outbox.push(entry(1, 40))
    outbox.push(entry(2, 40))
    assert.equal(outbox.isFull(30), true, 'bytes')
    assert.equal(outbox.isFull(10), false)
    outbox.push(entry(3, 10))
    assert.equal(outbox.isFull(1), true, 'count')
  })

  test('rewind replays every unacknowledged entry from the oldest, across compaction', () => {
    const outbox = new Outbox({ maxMessages: 5000 })
    for (let i = 1; i <= 3000; i++) outbox.push(entry(i, 1))
    while (outbox.next() !== undefined) {}
    outbox.ack(2500)
    outbox.rewind()
    const replay: number[] = []
    for (let e = outbox.next(); e !== undefined; e = outbox.next()) replay.push(e.seq)
    assert.deepEqual(
      replay,
      Array.from({ length: 500 }, (_, i) => 2501 + i),
    )
    assert.equal(outbox.sentUpTo, 3000)
  })
})
