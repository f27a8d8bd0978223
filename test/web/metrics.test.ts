import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { closeWeb, serve } from '../../src/cli/serve.ts'
import { MessageClient, MessageServer, type Peer } from '../../src/messaging/index.ts'
import { FaultProxy } from '../../src/proxy/index.ts'
import { metricsFor } from '../../src/web/index.ts'
import { parsePrometheusText, sampleValue } from './prom-text.ts'

const cleanup: (() => unknown)[] = []
after(async () => {
  for (const fn of cleanup.reverse()) await fn()
})

async function until(predicate: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

/** A `wirekit serve` in this process with an admin HTTP listener; returns its URLs. */
async function serveWithAdmin(extra: { retention?: number } = {}) {
  const logs: string[] = []
  const server = await serve({
    host: '127.0.0.1',
    port: 0,
    adminHttp: '127.0.0.1:0',
    signal: AbortSignal.abort(),
    log: (l) => logs.push(l),
    ...extra,
  })
  cleanup.push(async () => {
    await closeWeb(server)
    await server.close()
  })
  const address = server.addresses[0]!
  const admin = /admin http on (http:\/\/[^/]+)\/metrics/.exec(logs.join('\n'))![1]!
  return {
    server,
    url: `tcp://127.0.0.1:${'port' in address ? address.port : 0}`,
    admin,
    port: 'port' in address ? address.port : 0,
  }
}

async function scrape(admin: string) {
  const res = await fetch(`${admin}/metrics`)
  assert.equal(res.status, 200)
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/)
  return parsePrometheusText(await res.text())
}

describe('/metrics', () => {
  test('parses as Prometheus text, and message, session, room and handler metrics move as messages flow', async () => {
    const { url, admin } = await serveWithAdmin()
    const before = await scrape(admin)
    assert.equal(sampleValue(before, 'wirekit_sessions', { state: 'connected' }), 0)
    for (const name of [
      'nodejs_eventloop_lag_seconds',
      'process_resident_memory_bytes',
      'nodejs_heap_size_used_bytes',
    ])
      assert.ok(before.has(name), `process metric ${name}`)
    const alice = await MessageClient.connect(url, { credentials: { name: 'alice' } })
    const bob = await MessageClient.connect(url, { credentials: { name: 'bob' } })
    cleanup.push(
      () => alice.close(),
      () => bob.close(),
    )
    await alice.request('join', 'lobby')
    await bob.request('join', 'lobby')
    let heard = 0
    bob.on('message', () => heard++)
    for (let i = 0; i < 10; i++) await alice.emit('say', { room: 'lobby', text: `line ${i}` })
    await until(() => heard === 10, 'bob to hear 10 lines')
    await until(
      async () => sampleValue(await scrape(admin), 'wirekit_messages_sent_total') >= 24,
      'acknowledged sends',
    )
    const now = await scrape(admin)
    // alice: 1 join request + 10 lines; bob: 1 join request.
    assert.equal(sampleValue(now, 'wirekit_messages_received_total'), 12)
    // 2 join responses, 3 join notices (alice's to alice, bob's to both), 10 lines to 2 people: 25.
    assert.equal(sampleValue(now, 'wirekit_messages_sent_total'), 25)
    assert.equal(sampleValue(now, 'wirekit_sessions', { state: 'connected' }), 2)
    assert.equal(sampleValue(now, 'wirekit_connections', { transport: 'stream' }), 2)
    assert.equal(sampleValue(now, 'wirekit_rooms'), 1)
    assert.equal(sampleValue(now, 'wirekit_room_members'), 2)
    assert.equal(
      sampleValue(now, 'wirekit_request_handler_duration_seconds_count', { method: 'join', outcome: 'ok' }),
      2,
    )
    assert.ok(now.get('wirekit_outbox_depth_messages'), 'outbox depth histogram')
    assert.ok(now.get('wirekit_http_request_duration_seconds'), 'HTTP request latency histogram')
  })

  test('a client that vanishes is counted retained, then lost when its retention runs out; resends are counted', async () => {
    const { server, admin, port } = await serveWithAdmin({ retention: 500 })
    const proxy = await FaultProxy.start({ target: { host: '127.0.0.1', port } })
    cleanup.push(() => proxy.close())
    // A resumed session replays what the client had not acknowledged: push while the link swallows bytes.
    const carol = await MessageClient.connect(`tcp://127.0.0.1:${proxy.port}`, {
      credentials: { name: 'carol' },
      reconnect: { initialDelay: 20, maxDelay: 50 },
    })
    cleanup.push(() => carol.close())
    let got = 0
    carol.on('ping-me', () => got++)
    const peer = [...server.peers.values()][0] as Peer
    proxy.set({ blackhole: true })
    for (let i = 0; i < 5; i++) void peer.emit('ping-me', i).catch(() => {})
    await new Promise((r) => setTimeout(r, 100))
    proxy.resetAll()
    proxy.set({ blackhole: false })
    await until(() => got === 5, 'the resent messages')
    await until(
      async () => sampleValue(await scrape(admin), 'wirekit_resent_messages_total') >= 5,
      'resends counted',
    )
    // Now vanish without a goodbye: the session is retained, then expires.
    const dave = await MessageClient.connect(`tcp://127.0.0.1:${proxy.port}`, {
      credentials: { name: 'dave' },
      reconnect: false,
    })
    cleanup.push(() => dave.close())
    proxy.set({ blackhole: true })
    proxy.resetAll()
    await until(
      async () => sampleValue(await scrape(admin), 'wirekit_sessions', { state: 'retained' }) >= 1,
      'a retained session',
    )
    await until(
      async () => sampleValue(await scrape(admin), 'wirekit_sessions_ended_total', { reason: 'lost' }) >= 1,
      'the expiry',
    )
  })

  test('metricsFor(server) works without HTTP, counts rate-limited peers, and is one registry per server', async () => {
    const server = new MessageServer({ rateLimit: { messages: 5, interval: 1000, action: 'throttle' } })
    const metrics = metricsFor(server, { processMetrics: false })
    assert.equal(metricsFor(server), metrics)
    cleanup.push(async () => {
      metrics.close()
      await server.close()
    })
    let received = 0
    server.on('connection', (peer: Peer) => peer.on('tick', () => received++))
    const address = await server.listen({ host: '127.0.0.1', port: 0 })
    const client = await MessageClient.connect(`tcp://127.0.0.1:${'port' in address ? address.port : 0}`)
    cleanup.push(() => client.close())
    for (let i = 0; i < 20; i++) void client.emit('tick', i)
    await until(() => received >= 6, 'some ticks through the limit')
    const text = await metrics.metrics()
    const families = parsePrometheusText(text)
    assert.ok(sampleValue(families, 'wirekit_rate_limited_total') >= 1)
    assert.ok(!families.has('process_resident_memory_bytes'), 'processMetrics: false')
    assert.equal(metrics.stats().sessions.connected, 1)
  })
})
