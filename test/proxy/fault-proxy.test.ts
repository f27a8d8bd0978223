import assert from 'node:assert/strict'
import { once } from 'node:events'
import type { Socket } from 'node:net'
import { after, afterEach, before, describe, test } from 'node:test'
import { InvalidArgumentError } from '../../src/errors.ts'
import { FaultProxy } from '../../src/proxy/index.ts'
import {
  bytesDuring,
  closeReason,
  connectTo,
  type EchoServer,
  pattern,
  receive,
  startEcho,
  waitFor,
} from './helpers.ts'

let echo: EchoServer
const proxies: FaultProxy[] = []
const clients: Socket[] = []

before(async () => {
  echo = await startEcho()
})
afterEach(async () => {
  for (const socket of clients.splice(0)) socket.destroy()
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()))
})
after(async () => {
  await echo.close()
})

async function proxyTo(
  faults: Parameters<typeof FaultProxy.start>[0] extends infer O ? Omit<O, 'target'> : never,
) {
  const proxy = await FaultProxy.start({ ...faults, target: { port: echo.port } })
  proxies.push(proxy)
  return proxy
}

describe('FaultProxy forwarding', () => {
  test('passes 1 MiB through and back intact, and counts the bytes each way', async () => {
    const proxy = await proxyTo({})
    const client = await connectTo(proxy.port, clients)
    const data = pattern(1 << 20)
    client.write(data)
    const { bytes } = await receive(client, data.length, 20_000)
    assert.ok(bytes.equals(data))
    assert.equal(proxy.stats.bytesUpstream, data.length)
    assert.equal(proxy.stats.bytesDownstream, data.length)
    assert.equal(proxy.stats.connections, 1)
    assert.equal(proxy.stats.totalConnections, 1)
  })

  test('forwards a FIN each way: the client ends, the echo server ends back, the client sees end', async () => {
    const proxy = await proxyTo({})
    const client = await connectTo(proxy.port, clients)
    client.end(Buffer.from('bye'))
    const { bytes } = await receive(client, 3, 5000)
    assert.equal(bytes.toString(), 'bye')
    await Promise.race([
      once(client, 'end'),
      new Promise((_, reject) => setTimeout(() => reject(new Error('no end')), 5000)),
    ])
    await waitFor(() => proxy.stats.connections === 0, 5000, 'the proxied connection to close')
  })

  test('resets the client when the target refuses the connection', async () => {
    const closed = await startEcho()
    const port = closed.port
    await closed.close()
    const proxy = await FaultProxy.start({ target: { port } })
    proxies.push(proxy)
    const client = await connectTo(proxy.port, clients)
    assert.equal(await closeReason(client, 5000), 'ECONNRESET')
  })
})

describe('FaultProxy latency and jitter', () => {
  test('delays the round trip by about twice the latency', async () => {
    const proxy = await proxyTo({ latency: 60, jitter: 20 })
    const client = await connectTo(proxy.port, clients)
    const started = performance.now()
    client.write('x')
    await receive(client, 1, 10_000)
    const elapsed = performance.now() - started
    // Each direction waits at least latency - jitter = 40 ms.
    assert.ok(elapsed >= 75, `round trip took ${elapsed.toFixed(1)} ms`)
    assert.equal(proxy.faults.upstream.latency, 60)
  })

  test('keeps bytes in order under latency and jitter, write after write', async () => {
    const proxy = await proxyTo({ latency: 5, jitter: 5 })
    const client = await connectTo(proxy.port, clients)
    const data = pattern(64 * 200)
    for (let i = 0; i < 200; i++) {
      client.write(data.subarray(i * 64, (i + 1) * 64))
      if (i % 10 === 0) await new Promise((resolve) => setImmediate(resolve))
    }
    const { bytes } = await receive(client, data.length, 20_000)
    assert.ok(bytes.equals(data), 'echoed bytes differ from the bytes sent')
  })

  test('applies a change of latency at run time', async () => {
    const proxy = await proxyTo({ latency: 2000 })
    const client = await connectTo(proxy.port, clients)
    proxy.set({ latency: 0 })
    const started = performance.now()
    client.write('x')
    await receive(client, 1, 10_000)
    assert.ok(performance.now() - started < 1500, 'the old 2 s latency still applied')
  })
})

describe('FaultProxy split', () => {
  test('delivers a 1-byte split as many separate segments, intact and in order', async () => {
    const proxy = await proxyTo({ downstream: { split: 1 } })
    const client = await connectTo(proxy.port, clients)
    const data = pattern(300)
    client.write(data)
    const { bytes, chunks } = await receive(client, data.length, 20_000)
    assert.ok(bytes.equals(data))
    assert.ok(chunks >= 30, `only ${chunks} chunks for ${data.length} bytes`)
    assert.equal(proxy.faults.upstream.split, 0)
  })
})

describe('FaultProxy bandwidth', () => {
  test('throttles a direction to about the configured bytes per second', async () => {
    const rate = 64 * 1024
    const proxy = await proxyTo({ downstream: { bandwidth: rate } })
    const client = await connectTo(proxy.port, clients)
    const data = pattern(96 * 1024)
    const started = performance.now()
    client.write(data)
    const { bytes } = await receive(client, data.length, 30_000)
    const seconds = (performance.now() - started) / 1000
    assert.ok(bytes.equals(data))
    // 96 KiB at 64 KiB/s is 1.5 s; the first slice leaves at once, a loaded machine only makes it slower.
    assert.ok(seconds >= 1.2, `96 KiB arrived in ${seconds.toFixed(2)} s`)
    assert.ok(seconds <= 8, `96 KiB took ${seconds.toFixed(2)} s`)
  })
})

describe('FaultProxy resets', () => {
  test('resetAll() makes the client see ECONNRESET', async () => {
    const proxy = await proxyTo({})
    const client = await connectTo(proxy.port, clients)
    client.write('ping')
    await receive(client, 4, 5000)
    const reason = closeReason(client, 5000)
    assert.equal(proxy.resetAll(), 1)
    assert.equal(await reason, 'ECONNRESET')
    assert.equal(proxy.stats.resets, 1)
    await waitFor(() => proxy.stats.connections === 0, 5000, 'the reset connection to be forgotten')
  })

  test('resetEvery resets connections periodically, and new connections still work', async () => {
    const proxy = await proxyTo({ resetEvery: 150 })
    const first = await connectTo(proxy.port, clients)
    assert.equal(await closeReason(first, 5000), 'ECONNRESET')
    proxy.set({ resetEvery: 0 })
    const second = await connectTo(proxy.port, clients)
    second.write('ok')
    assert.equal((await receive(second, 2, 5000)).bytes.toString(), 'ok')
    assert.ok(proxy.stats.resets >= 1)
  })
})

describe('FaultProxy blackhole', () => {
  test('stops delivery without closing, and delivers again when lifted', async () => {
    const proxy = await proxyTo({})
    const client = await connectTo(proxy.port, clients)
    client.write('a')
    await receive(client, 1, 5000)
    let closed = false
    client.once('close', () => {
      closed = true
    })
    proxy.set({ blackhole: true })
    client.write('swallowed')
    assert.equal(await bytesDuring(client, 300), 0)
    assert.equal(closed, false)
    assert.equal(proxy.stats.connections, 1)
    assert.equal(proxy.stats.droppedUpstream, 'swallowed'.length)
    proxy.set({ blackhole: false })
    client.write('back')
    assert.equal((await receive(client, 4, 5000)).bytes.toString(), 'back')
  })

  test('blackholeAfter silences each connection some time after it opened', async () => {
    const proxy = await proxyTo({ blackholeAfter: 300 })
    const client = await connectTo(proxy.port, clients)
    client.write('early')
    assert.equal((await receive(client, 5, 5000)).bytes.toString(), 'early')
    await new Promise((resolve) => setTimeout(resolve, 500))
    client.write('late')
    assert.equal(await bytesDuring(client, 300), 0)
    assert.equal(client.destroyed, false)
    assert.equal(proxy.stats.droppedUpstream, 4)
    const fresh = await connectTo(proxy.port, clients)
    fresh.write('new')
    assert.equal((await receive(fresh, 3, 5000)).bytes.toString(), 'new')
  })
})

describe('FaultProxy memory', () => {
  test('pauses the sender when a delay queue is full, then delivers everything', async () => {
    const maxQueuedBytes = 64 * 1024
    const proxy = await proxyTo({ latency: 400, maxQueuedBytes })
    const client = await connectTo(proxy.port, clients)
    const data = pattern(4 << 20)
    client.write(data)
    let peak = 0
    const sample = setInterval(() => {
      peak = Math.max(peak, proxy.stats.queuedUpstream, proxy.stats.queuedDownstream)
    }, 5)
    try {
      await new Promise((resolve) => setTimeout(resolve, 600))
      proxy.set({ latency: 0 })
      const { bytes } = await receive(client, data.length, 30_000)
      assert.ok(bytes.equals(data))
    } finally {
      clearInterval(sample)
    }
    // One read (up to 64 KiB) may land after the pause; never more.
    assert.ok(peak > 0 && peak <= maxQueuedBytes + 128 * 1024, `peak queue ${peak} bytes`)
  })
})

describe('FaultProxy options', () => {
  test('refuses bad faults and a missing target with WK_INVALID_ARGUMENT', async () => {
    const proxy = await proxyTo({})
    assert.throws(() => proxy.set({ latency: -1 }), InvalidArgumentError)
    assert.throws(() => proxy.set({ bandwidth: Number.POSITIVE_INFINITY }), InvalidArgumentError)
    assert.throws(
      () => proxy.set({ upstream: { blackhole: 'yes' as unknown as boolean } }),
      InvalidArgumentError,
    )
    await assert.rejects(FaultProxy.start({ target: { port: 0 } }), InvalidArgumentError)
    assert.equal(proxy.faults.upstream.latency, 0, 'a refused change leaves the faults as they were')
  })
})
