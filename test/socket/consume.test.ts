// AsyncSocket.consume(): a socket's bytes handed to a consumer as they arrive instead of through read().
// Order with bytes already buffered and with reads queued first, the end (FIN, reset, destroy) delivered
// once, detaching, and backpressure while no consumer takes the bytes. Real loopback sockets.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { after, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { ErrorCodes, isWirekitError, type WirekitError } from '../../src/errors.ts'
import type { ChunkConsumer } from '../../src/socket/index.ts'
import { acceptedWithRaw, pairWithRaw, Resources, within } from './helpers.ts'

const resources = new Resources()
after(() => resources.closeAll())

/** A consumer that keeps what it is given; `bytes(n)` waits until n bytes have arrived. */
class Collector implements ChunkConsumer {
  chunks: Buffer[] = []
  ends: WirekitError[] = []
  #waiters: { n: number; resolve: () => void }[] = []
  #ended = Promise.withResolvers<WirekitError>()

  get received(): number {
    let n = 0
    for (const c of this.chunks) n += c.length
    return n
  }

  get text(): string {
    return Buffer.concat(this.chunks).toString()
  }

  consumeChunk(chunk: Buffer): void {
    assert.ok(chunk.length > 0, 'a consumer is never given an empty chunk')
    this.chunks.push(chunk)
    const received = this.received
    for (const w of this.#waiters) if (received >= w.n) w.resolve()
    this.#waiters = this.#waiters.filter((w) => received < w.n)
  }

  consumeEnd(reason: WirekitError): void {
    this.ends.push(reason)
    this.#ended.resolve(reason)
  }

  bytes(n: number): Promise<void> {
    if (this.received >= n) return Promise.resolve()
    const { promise, resolve } = Promise.withResolvers<void>()
    this.#waiters.push({ n, resolve })
    return within(promise, 5000, `${n} bytes`)
  }

  ended(): Promise<WirekitError> {
    return within(this.#ended.promise, 5000, 'consumeEnd')
  }
}

/** Waits until the socket has read `n` bytes from the kernel (into its own buffer). */
async function untilRead(socket: { bytesRead: number }, n: number): Promise<void> {
  for (let i = 0; i < 500 && socket.bytesRead < n; i++) await sleep(10)
  assert.ok(socket.bytesRead >= n, `the socket read ${socket.bytesRead} of ${n} bytes`)
}

describe('AsyncSocket.consume', () => {
  test('a consumer receives every byte in order, first those that arrived before it was attached', async () => {
    const { client, peer } = await pairWithRaw(resources)
    peer.write('early ')
    await untilRead(client, 6)
    const consumer = new Collector()
    client.consume(consumer)
    assert.equal(consumer.text, 'early ', 'the buffered bytes are handed over at once')
    peer.write('late')
    await consumer.bytes(10)
    assert.equal(consumer.text, 'early late')
  })

  test('reads queued before consume() complete first; the consumer gets the bytes after theirs', async () => {
    const { client, peer } = await pairWithRaw(resources)
    const head = client.read({ length: 4 })
    const line = client.read({ until: '\n' })
    const consumer = new Collector()
    client.consume(consumer)
    peer.write('HEADline one\nrest of the stream')
    assert.equal((await within(head, 2000, 'read({ length })')).toString(), 'HEAD')
    assert.equal((await within(line, 2000, 'read({ until })')).toString(), 'line one\n')
    await consumer.bytes(18)
    assert.equal(consumer.text, 'rest of the stream')
  })

  test('read() on a socket whose bytes go to a consumer throws WK_INVALID_ARGUMENT', async () => {
    const { client } = await pairWithRaw(resources)
    client.consume(new Collector())
    assert.throws(
      () => client.read(),
      (error: unknown) => isWirekitError(error) && error.code === ErrorCodes.INVALID_ARGUMENT,
    )
  })

  test("the peer's FIN reaches consumeEnd once, after the last chunk, with readEnded true", async () => {
    const { client, peer } = await pairWithRaw(resources)
    const consumer = new Collector()
    client.consume(consumer)
    peer.end('last words')
    const reason = await consumer.ended()
    assert.equal(consumer.text, 'last words')
    assert.ok(isWirekitError(reason))
    assert.equal(client.readEnded, true)
    await sleep(50)
    assert.equal(consumer.ends.length, 1)
  })

  test('a reset by the peer reaches consumeEnd with an error, readEnded false', async () => {
    const { client, peer } = await pairWithRaw(resources)
    const consumer = new Collector()
    client.consume(consumer)
    peer.resetAndDestroy()
    const reason = await consumer.ended()
    assert.ok(isWirekitError(reason))
    assert.equal(client.readEnded, false)
  })

  test('destroy() reaches consumeEnd once; a consumer attached after the end hears of it at once', async () => {
    const { client } = await pairWithRaw(resources)
    const consumer = new Collector()
    client.consume(consumer)
    client.destroy()
    const reason = await consumer.ended()
    assert.ok(isWirekitError(reason))
    const late = new Collector()
    client.consume(late)
    assert.equal(late.ends.length, 1, 'told synchronously')
    assert.equal(consumer.ends.length, 1)
  })

  test('consume(undefined) detaches: later bytes wait in the socket and reach the next consumer in order', async () => {
    const { client, peer } = await pairWithRaw(resources)
    const first = new Collector()
    client.consume(first)
    peer.write('one ')
    await first.bytes(4)
    client.consume(undefined)
    peer.write('two ')
    await untilRead(client, 8)
    peer.write('three')
    await untilRead(client, 13)
    assert.equal(first.text, 'one ', 'a detached consumer gets nothing more')
    const second = new Collector()
    client.consume(second)
    await second.bytes(9)
    assert.equal(second.text, 'two three')
  })

  test('detached, the socket stops reading at its high-water mark and the peer is pushed back', async () => {
    const { client, peer } = await pairWithRaw(resources, { readHighWaterMark: 64 * 1024 })
    client.consume(undefined)
    const total = 32 * 1024 * 1024
    const payload = Buffer.alloc(total, 7)
    let drained = false
    peer.write(payload, () => {
      drained = true
    })
    await sleep(300)
    // The kernel buffers take a few MB; the rest of the 32 MB stays with the writer while nobody reads.
    assert.ok(client.bytesRead < total / 2, `read ${client.bytesRead} bytes while detached`)
    assert.equal(drained, false)
    const consumer = new Collector()
    client.consume(consumer)
    await within(
      (async () => {
        while (consumer.received < total) await sleep(20)
      })(),
      20_000,
      'all bytes after attaching',
    )
    assert.equal(consumer.received, total)
    if (!drained) await once(peer, 'drain').catch(() => {})
    assert.ok(consumer.chunks.every((c) => c.every((b) => b === 7)))
  })
})

/** A consumer that records what it is given. */
function recorder(): ChunkConsumer & { chunks: string[]; ends: WirekitError[]; ended: Promise<void> } {
  const ended = Promise.withResolvers<void>()
  const chunks: string[] = []
  const ends: WirekitError[] = []
  return {
    chunks,
    ends,
    ended: ended.promise,
    consumeChunk(chunk) {
      chunks.push(chunk.toString())
    },
    consumeEnd(reason) {
      ends.push(reason)
      ended.resolve()
    },
  }
}

describe('AsyncSocket.consume on an accepted socket (the shared onread path)', () => {
  test('gets the bytes buffered before it came first, then each chunk as it arrives, then the FIN', async () => {
    const { client, peer } = await acceptedWithRaw(resources)
    peer.write('early')
    await within(
      new Promise<void>((resolve) => {
        const poll = (): void => (client.bufferedBytes === 5 ? resolve() : void setTimeout(poll, 5))
        poll()
      }),
      5000,
      'bytes buffered',
    )
    const consumer = recorder()
    client.consume(consumer)
    assert.deepEqual(consumer.chunks, ['early'])
    assert.equal(client.bufferedBytes, 0)
    peer.write('late')
    await within(
      new Promise<void>((resolve) => {
        const poll = (): void => (consumer.chunks.length === 2 ? resolve() : void setTimeout(poll, 5))
        poll()
      }),
      5000,
      'second chunk',
    )
    assert.deepEqual(consumer.chunks, ['early', 'late'])
    assert.equal(client.bytesRead, 9)
    peer.end()
    await within(consumer.ended, 5000, 'consumeEnd')
    assert.equal(consumer.ends.length, 1)
    assert.equal(consumer.ends[0]!.code, 'WK_CLOSED')
    assert.equal(client.readEnded, true)
    // The socket is still writable (half-open) and closes once, without a second consumeEnd.
    await client.write('bye')
    client.destroy()
    assert.equal(consumer.ends.length, 1)
  })

  test('stopped, the socket holds the bytes (and the end) until a consumer is set again', async () => {
    const { client, peer } = await acceptedWithRaw(resources)
    const consumer = recorder()
    client.consume(consumer)
    client.consume(undefined)
    peer.end('held')
    await within(once(client, 'readClosed'), 5000, 'readClosed')
    assert.deepEqual(consumer.chunks, [])
    assert.equal(consumer.ends.length, 0)
    client.consume(consumer)
    assert.deepEqual(consumer.chunks, ['held'])
    assert.equal(consumer.ends.length, 1)
    assert.equal(consumer.ends[0]!.code, 'WK_CLOSED')
  })

  test('a destroyed socket ends its consumer with the failure', async () => {
    const { client } = await acceptedWithRaw(resources)
    const consumer = recorder()
    client.consume(consumer)
    const failure = Object.assign(new Error('boom'), { code: 'WK_TEST' }) as unknown as WirekitError
    client.destroy(failure)
    assert.deepEqual(consumer.ends, [failure])
  })
})
