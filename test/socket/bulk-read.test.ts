// Large reads and bulk streams on plaintext sockets. Connected and accepted ones read through net's
// `onread` into buffers the socket chooses (a record-sized destination, an arena, or the shared
// scratch); a wrapped hand-made net.Socket reads through 'data' events. Whatever the peer's write
// sizes and the reads' kinds, the bytes come back exactly as sent.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import type net from 'node:net'
import { after, describe, test } from 'node:test'
import fc from 'fast-check'
import { isWirekitError } from '../../src/errors.ts'
import type { AsyncSocket } from '../../src/socket/index.ts'
import { acceptedWithRaw, pairWithRaw, Resources, tick, within, wrappedWithRaw } from './helpers.ts'

const resources = new Resources()
after(() => resources.closeAll())

/**
 * Most pieces a generated case may write. Each few pieces cost an event-loop turn and about one read,
 * so 1-byte pieces of a megabyte took seconds per case (and 100 000+ reads), and minutes once fast-check
 * shrank such a case: the property ran into the test timeout.
 */
const MAX_PIECES = 10_000

/** How many writes writeInPieces makes for `total` bytes in pieces of `sizes` (at most). */
function piecesFor(total: number, sizes: number[]): number {
  return Math.ceil(total / sizes.reduce((sum, size) => sum + size, 0)) * sizes.length
}

/** Writes `data` in pieces of the given sizes (cycled), yielding to the event loop between some. */
async function writeInPieces(peer: net.Socket, data: Buffer, sizes: number[]): Promise<void> {
  let offset = 0
  for (let i = 0; offset < data.length; i++) {
    const size = sizes[i % sizes.length]!
    const ok = peer.write(data.subarray(offset, offset + size))
    offset += size
    // Separate kernel reads now and then, so reads see records split at many places.
    if (!ok) await once(peer, 'drain')
    else if (i % 3 === 0) await tick()
  }
}

/** Reads everything left until the peer's FIN. */
async function readRest(client: AsyncSocket): Promise<Buffer[]> {
  const parts: Buffer[] = []
  for (let i = 0; i < 100_000; i++) {
    try {
      parts.push(await within(client.read(), 5000, 'read rest'))
    } catch (error) {
      if (isWirekitError(error, 'WK_CLOSED')) return parts
      throw error
    }
  }
  throw new Error('readRest: too many reads')
}

const sides = [
  ['connected', pairWithRaw],
  ['accepted', acceptedWithRaw],
  ['wrapped', wrappedWithRaw],
] as const

for (const [side, pair] of sides)
  describe(`bulk reads (${side} socket)`, () => {
    test('read({ length: 65536 }) records arrive intact whatever sizes the peer writes in', async () => {
      const { client, peer } = await pair(resources)
      const records = 48
      const data = randomBytes(records * 65536)
      const writing = writeInPieces(peer, data, [1, 70_000, 4096, 65_536, 123_457, 17, 65_535, 30_000])
      for (let i = 0; i < records; i++) {
        const record = await within(client.read({ length: 65536 }), 5000, `record ${i}`)
        assert.equal(record.length, 65536)
        assert.ok(record.equals(data.subarray(i * 65536, (i + 1) * 65536)), `record ${i} differs`)
      }
      await within(writing, 5000, 'writing')
    })

    test('a large read that starts in already buffered bytes finishes with the right bytes', async () => {
      const { client, peer } = await pair(resources)
      const data = randomBytes(3 * 200_000 + 5)
      peer.write(data.subarray(0, 5))
      assert.ok((await within(client.read({ length: 5 }), 2000, 'head')).equals(data.subarray(0, 5)))
      peer.write(data.subarray(5, 100_005))
      // 100 000 bytes are (or are about to be) buffered; the read needs 100 000 more from the kernel.
      const body = client.read({ length: 200_000 })
      await tick()
      const writing = writeInPieces(peer, data.subarray(100_005), [50_000, 1, 150_000, 3])
      assert.ok((await within(body, 5000, 'body')).equals(data.subarray(5, 200_005)))
      assert.ok((await within(client.read({ length: 400_000 }), 5000, 'rest')).equals(data.subarray(200_005)))
      await within(writing, 5000, 'writing')
    })

    test('a header/body protocol (4-byte length, then a large body) reads every message intact', async () => {
      const { client, peer } = await pair(resources)
      const bodies = Array.from({ length: 30 }, (_, i) => randomBytes(16_384 + ((i * 7919) % 90_000)))
      const wire = Buffer.concat(
        bodies.flatMap((body) => {
          const head = Buffer.alloc(4)
          head.writeUInt32BE(body.length)
          return [head, body]
        }),
      )
      const writing = writeInPieces(peer, wire, [70_001, 3, 65_536, 20_000])
      for (const [i, body] of bodies.entries()) {
        const head = await within(client.read({ length: 4 }), 5000, `head ${i}`)
        const got = await within(client.read({ length: head.readUInt32BE(0) }), 5000, `body ${i}`)
        assert.ok(got.equals(body), `body ${i} differs`)
      }
      await within(writing, 5000, 'writing')
    })

    test('records longer than the largest preallocated destination still arrive intact', async () => {
      const { client, peer } = await pair(resources)
      const data = randomBytes(3 * 1024 * 1024)
      const writing = writeInPieces(peer, data, [65_536, 1_000_000, 7])
      const record = await within(client.read({ length: data.length }), 10_000, 'big record')
      assert.ok(record.equals(data))
      await within(writing, 5000, 'writing')
    })

    test('a slow reader of 64 KiB records still holds at most about readHighWaterMark bytes', async () => {
      const highWaterMark = 128 * 1024
      const { client, peer } = await pair(resources, { readHighWaterMark: highWaterMark })
      const total = 8 * 1024 * 1024
      const chunk = randomBytes(64 * 1024)
      const pumping = (async () => {
        for (let sent = 0; sent < total; sent += chunk.length) {
          if (!peer.write(chunk)) await once(peer, 'drain')
        }
      })()
      let maxBuffered = 0
      for (let received = 0; received < total; received += 65536) {
        if (received < 1024 * 1024) await new Promise((resolve) => setTimeout(resolve, 2))
        maxBuffered = Math.max(maxBuffered, client.bufferedBytes)
        const record = await within(client.read({ length: 65536 }), 5000, 'record')
        assert.ok(record.equals(chunk))
      }
      await within(pumping, 5000, 'pumping')
      // One kernel read (at most a record, or a 64 KiB arena) may land after the mark is crossed.
      assert.ok(maxBuffered <= highWaterMark + 128 * 1024, `buffered ${maxBuffered} bytes`)
    })

    test('any mix of length reads and plain reads over any split returns exactly the bytes sent', async () => {
      const op = fc.oneof(
        fc.record({ length: fc.integer({ min: 1, max: 150_000 }) }),
        fc.record({ maxLength: fc.integer({ min: 1, max: 100_000 }) }),
      )
      await fc.assert(
        fc.asyncProperty(
          fc.array(op, { minLength: 1, maxLength: 12 }),
          fc.array(fc.integer({ min: 1, max: 140_000 }), { minLength: 1, maxLength: 6 }),
          async (ops, sizes) => {
            const total = ops.reduce((sum, o) => sum + ('length' in o ? o.length : o.maxLength), 0) + 1000
            fc.pre(piecesFor(total, sizes) <= MAX_PIECES)
            const { client, peer } = await within(pair(resources), 5000, 'pair')
            try {
              const data = randomBytes(total)
              const writing = writeInPieces(peer, data, sizes).then(() => peer.end())
              const parts: Buffer[] = []
              for (const o of ops) {
                const part = await within(client.read(o), 5000, 'read')
                if ('length' in o) assert.equal(part.length, o.length)
                else assert.ok(part.length >= 1 && part.length <= o.maxLength)
                parts.push(part)
              }
              parts.push(...(await readRest(client)))
              await within(writing, 5000, 'writing')
              assert.ok(Buffer.concat(parts).equals(data))
            } finally {
              client.destroy()
              peer.destroy()
            }
          },
        ),
        // A failure's shrinking runs the property again and again: stop it (reporting the seed and the
        // smallest case found so far) before the test timeout would.
        { numRuns: 25, plugins: [fc.interruptAfterTimeLimit(60_000, { failOnInterrupt: true })] },
      )
    })

    test('one-byte pieces: reads of every kind gather thousands of tiny kernel reads exactly', async () => {
      // The tiny splits the property above leaves out past MAX_PIECES, at a size that stays quick: each
      // record (large enough for a destination of its own) is filled by thousands of kernel reads.
      const { client, peer } = await within(pair(resources), 5000, 'pair')
      const data = randomBytes(40_000)
      const writing = writeInPieces(peer, data, [1]).then(() => peer.end())
      const parts = [await within(client.read({ maxLength: 10 }), 5000, 'first')]
      parts.push(await within(client.read({ length: 20_000 }), 5000, 'record'))
      parts.push(await within(client.read({ maxLength: 100 }), 5000, 'plain'))
      parts.push(await within(client.read({ length: 17_000 }), 5000, 'second record'))
      assert.equal(parts[1]!.length, 20_000)
      assert.equal(parts[3]!.length, 17_000)
      parts.push(...(await readRest(client)))
      await within(writing, 5000, 'writing')
      assert.ok(Buffer.concat(parts).equals(data))
    })

    test('small messages after a bulk burst are still delivered exactly', async () => {
      const { client, peer } = await pair(resources)
      const burst = randomBytes(1024 * 1024)
      const writing = writeInPieces(peer, burst, [65_536])
      assert.ok((await within(client.read({ length: burst.length }), 5000, 'burst')).equals(burst))
      await within(writing, 5000, 'writing')
      for (let i = 0; i < 50; i++) {
        peer.write(`message ${i}\n`)
        const line = await within(client.read({ until: '\n' }), 2000, `message ${i}`)
        assert.equal(line.toString(), `message ${i}\n`)
      }
    })

    test("quiet sockets reading small messages never see each other's bytes", async () => {
      const a = await pair(resources)
      const b = await pair(resources)
      const sent = { a: [] as string[], b: [] as string[] }
      // Interleaved small writes, each side's bytes left unread while the other side receives.
      for (let i = 0; i < 40; i++) {
        for (const [name, pair] of [
          ['a', a],
          ['b', b],
        ] as const) {
          const message = `${name}${i}:${'x'.repeat(i)}\n`
          sent[name].push(message)
          pair.peer.write(message)
          await tick()
        }
      }
      for (const [name, pair] of [
        ['a', a],
        ['b', b],
      ] as const) {
        for (const message of sent[name]) {
          assert.equal((await within(pair.client.read({ until: '\n' }), 2000, name)).toString(), message)
        }
      }
    })
  })
