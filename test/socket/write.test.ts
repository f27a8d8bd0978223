// The write queue of AsyncSocket: call order, completion when the kernel has the bytes, the
// high-water mark against a peer that does not read, the queue cap, and write timeouts.
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { isWirekitError } from '../../src/errors.ts'
import { collect, pairWithRaw, Resources, track, within } from './helpers.ts'

const resources = new Resources()
after(() => resources.closeAll())

describe('AsyncSocket writes', () => {
  test('writes arrive in call order and each resolves, with its tag in the write event', async () => {
    const { client, peer } = await pairWithRaw(resources)
    const tags: unknown[] = []
    client.on('write', (tag) => tags.push(tag))
    const writes = Array.from({ length: 50 }, (_, i) =>
      client.write(`${String(i).padStart(3, '0')},`, { tag: i }),
    )
    const received = collect(peer, 50 * 4, 5000)
    await within(Promise.all(writes), 5000, 'writes')
    const text = (await received).toString()
    assert.equal(text, Array.from({ length: 50 }, (_, i) => `${String(i).padStart(3, '0')},`).join(''))
    assert.deepEqual(
      tags,
      Array.from({ length: 50 }, (_, i) => i),
    )
    assert.equal(client.bytesWritten, 200)
  })

  test('against a peer that does not read, writes past the high-water mark wait instead of piling up', async () => {
    const writeHighWaterMark = 256 * 1024
    const { client, peer } = await pairWithRaw(resources, {
      writeHighWaterMark,
      maxWriteQueue: 64 * 1024 * 1024,
    })
    peer.pause()
    const chunk = Buffer.alloc(64 * 1024, 1)
    const writes: Promise<void>[] = []
    const states: { settled: boolean }[] = []
    // 32 MiB is far more than the kernel's socket buffers take from a paused peer.
    for (let i = 0; i < 512; i++) {
      const write = client.write(chunk)
      writes.push(write)
      states.push(track(write))
    }
    await new Promise((resolve) => setTimeout(resolve, 300))
    // The stream never holds much more than the mark; the rest waits in our queue, unresolved.
    const inStream = client.pendingWriteBytes - client.queuedWriteBytes
    assert.ok(client.queuedWriteBytes > 0, 'the kernel buffers filled and writes are waiting')
    assert.ok(inStream <= writeHighWaterMark + chunk.length, `stream holds ${inStream} bytes`)
    assert.equal(states.at(-1)!.settled, false, 'the last write has not completed')
    const firstPending = states.findIndex((s) => !s.settled)
    assert.ok(firstPending > 0 && firstPending < 512, `some but not all writes completed (${firstPending})`)
    // Once the peer reads, everything completes, in order.
    const total = 512 * chunk.length
    const received = collect(peer, total, 5000)
    await within(Promise.all(writes), 20_000, 'writes after the peer reads')
    assert.equal((await received).length, total)
  })

  test('write() rejects with WK_BACKPRESSURE once maxWriteQueue bytes already wait', async () => {
    const { client, peer } = await pairWithRaw(resources, {
      writeHighWaterMark: 16 * 1024,
      maxWriteQueue: 1024 * 1024,
    })
    peer.pause()
    const chunk = Buffer.alloc(256 * 1024)
    const writes: Promise<void>[] = []
    let refused: unknown
    for (let i = 0; i < 200 && refused === undefined; i++) {
      const write = client.write(chunk)
      write.catch((error) => {
        refused ??= error
      })
      writes.push(write)
      await new Promise((resolve) => setImmediate(resolve))
    }
    assert.ok(isWirekitError(refused, 'WK_BACKPRESSURE'), `got ${String(refused)}`)
    client.destroy()
    await Promise.allSettled(writes)
  })

  test('a write that times out while still queued rejects with WK_WRITE_TIMEOUT and the socket stays usable', async () => {
    const { client, peer } = await pairWithRaw(resources, {
      writeHighWaterMark: 16 * 1024,
      maxWriteQueue: 64 * 1024 * 1024,
    })
    peer.pause()
    const filler = Array.from({ length: 400 }, () => client.write(Buffer.alloc(64 * 1024)))
    for (const write of filler) write.catch(() => {})
    const late = client.write('late', { timeout: 100, tag: 'late' })
    await assert.rejects(within(late, 5000, 'late write'), (error) => {
      assert.ok(isWirekitError(error, 'WK_WRITE_TIMEOUT'))
      assert.equal(error.tag, 'late')
      return true
    })
    assert.equal(client.state, 'connected')
    const total = 400 * 64 * 1024
    const received = collect(peer, total, 5000)
    await within(Promise.all(filler), 20_000, 'filler')
    assert.equal((await received).length, total)
  })

  test('onWriteTimeout can extend a write timeout instead of failing it', async () => {
    const { client, peer } = await pairWithRaw(resources, {
      writeHighWaterMark: 16 * 1024,
      maxWriteQueue: 64 * 1024 * 1024,
    })
    peer.pause()
    const filler = Array.from({ length: 400 }, () => client.write(Buffer.alloc(64 * 1024)))
    const calls: unknown[] = []
    // Keep extending until the peer reads: without the extension the write would fail at 50 ms.
    client.onWriteTimeout = (tag) => {
      calls.push(tag)
      return 200
    }
    const late = client.write('late', { timeout: 50, tag: 'x' })
    const lateState = track(late)
    for (let i = 0; i < 100 && calls.length === 0; i++)
      await new Promise((resolve) => setTimeout(resolve, 20))
    assert.ok(calls.length >= 1, 'the timeout fired')
    assert.equal(lateState.settled, false, 'still pending after its first deadline')
    peer.resume()
    await within(Promise.all([...filler, late]), 20_000, 'writes')
    assert.ok(calls.every((tag) => tag === 'x'))
  })

  test('write() after end() rejects with WK_CLOSED', async () => {
    const { client } = await pairWithRaw(resources)
    await client.end()
    await assert.rejects(client.write('x'), (error) => isWirekitError(error, 'WK_CLOSED'))
  })

  test('an aborted write rejects with WK_ABORTED', async () => {
    const { client } = await pairWithRaw(resources)
    await assert.rejects(client.write('x', { signal: AbortSignal.abort() }), (error) =>
      isWirekitError(error, 'WK_ABORTED'),
    )
  })
})
