// The scenario, bounded for CI: three server processes on one real Redis, clients spread over
// them, broadcasts across nodes; one process is SIGKILLed mid-stream, then Redis restarts mid-stream.

import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { Redis } from 'ioredis'
import { MessageClient } from '../../src/messaging/index.ts'
import { type RedisServer, startRedisServer } from '../helpers/redis-server.ts'
import {
  connectClients,
  killNode,
  type NodeProcess,
  proxiesFor,
  type Recorder,
  startNodeProcess,
  tickProblem,
} from './fixtures/cluster.ts'
import type { FailoverProxy } from './fixtures/failover-proxy.ts'
import { sleep, waitFor } from './fixtures/wait.ts'

type Cluster = {
  redis: RedisServer
  prefix: string
  nodes: NodeProcess[]
  proxies: FailoverProxy[]
  recorders: Recorder[]
  control: MessageClient
}

async function startCluster(clients: number): Promise<Cluster> {
  const redis = await startRedisServer()
  const prefix = `c${randomBytes(4).toString('hex')}`
  const nodes = await Promise.all([0, 1, 2].map(() => startNodeProcess(redis.url, prefix, 30_000)))
  const proxies = await proxiesFor(nodes.map((n) => n.port))
  const recorders = await connectClients(proxies, clients, 'feed')
  const control = await MessageClient.connect(`tcp://127.0.0.1:${nodes[0]!.port}`)
  return { redis, prefix, nodes, proxies, recorders, control }
}

async function stopCluster(cluster: Cluster | undefined): Promise<void> {
  if (cluster === undefined) return
  await cluster.control.close()
  await Promise.all(cluster.recorders.map((r) => r.client.close()))
  await Promise.all(cluster.proxies.map((p) => p.close()))
  await Promise.all(cluster.nodes.map((n) => killNode(n)))
  await cluster.redis.stop()
}

/** Broadcasts ticks 0..n-1 from node 0, one request at a time; `at(i)` runs before tick i. */
async function stream(control: MessageClient, n: number, at: (i: number) => void): Promise<void> {
  for (let i = 0; i < n; i++) {
    at(i)
    await control.request('tick', { room: 'feed', n: i }, { timeout: 10_000 })
    await sleep(3)
  }
}

function problems(recorders: Recorder[], n: number): string[] {
  const out: string[] = []
  recorders.forEach((r, i) => {
    const problem = tickProblem(r.ticks, n)
    if (problem !== undefined) out.push(`client ${i}: ${problem}`)
    if (r.lost > 0) out.push(`client ${i}: session lost`)
    if (r.client.sessionId !== r.firstSession) out.push(`client ${i}: new session`)
  })
  return out
}

describe('three server processes, 300 clients, a server killed mid-stream', () => {
  let cluster: Cluster | undefined
  before(async () => {
    cluster = await startCluster(300)
  })
  after(() => stopCluster(cluster))

  test('every client gets every broadcast once and in order, and the killed node’s clients resume elsewhere', async () => {
    const c = cluster!
    const n = 200
    const victims = c.recorders.filter((_, i) => i % 3 === 2)
    let killed: Promise<void> | undefined
    await stream(c.control, n, (i) => {
      if (i === 80) killed = killNode(c.nodes[2]!)
    })
    await killed
    await waitFor(
      () => c.recorders.every((r) => r.ticks.length >= n),
      30_000,
      () => `all ticks; ${problems(c.recorders, n).slice(0, 5).join('; ')}`,
    )
    await sleep(200)
    assert.deepEqual(problems(c.recorders, n), [])
    // The victims really moved: the proxy sent them to node 0, which now holds them with its own
    // 100 clients and the control client.
    const stats = (await c.control.request('stats')) as { peers: number }
    assert.equal(stats.peers, 100 + victims.length + 1)
  })
})

describe('three server processes, Redis restarted mid-stream', () => {
  let cluster: Cluster | undefined
  before(async () => {
    cluster = await startCluster(90)
  })
  after(() => stopCluster(cluster))

  test('local clients are served during the outage, buffered broadcasts reach the other nodes once, sessions are re-stored', async () => {
    const c = cluster!
    const n = 200
    const local = c.recorders.filter((_, i) => i % 3 === 0)
    let restarted: Promise<void> | undefined
    let localAtDown = 0
    let localAtUp = 0
    await stream(c.control, n, (i) => {
      if (i === 60) {
        localAtDown = Math.min(...local.map((r) => r.ticks.length))
        restarted = c.redis.restart(400).then(() => {
          localAtUp = Math.min(...local.map((r) => r.ticks.length))
        })
      }
    })
    await restarted
    await waitFor(
      () => c.recorders.every((r) => r.ticks.length >= n),
      30_000,
      () => `all ticks; ${problems(c.recorders, n).slice(0, 5).join('; ')}`,
    )
    await sleep(200)
    assert.deepEqual(problems(c.recorders, n), [])
    assert.ok(
      localAtUp > localAtDown + 10,
      `local clients went from ${localAtDown} to ${localAtUp} during the outage`,
    )
    const stats = (await c.control.request('stats')) as { outages: number; dropped: number; lost: number }
    assert.ok(stats.outages >= 1, 'node 0 saw the outage')
    assert.equal(stats.dropped, 0)
    assert.equal(stats.lost, 0)
    // Redis came back empty: every node wrote its sessions again.
    const raw = new Redis(c.redis.url)
    try {
      let stored = 0
      const deadline = Date.now() + 10_000
      while (Date.now() < deadline) {
        const keys = await raw.keys(`${c.prefix}:s:*`)
        stored = keys.filter((k) => !k.endsWith(':m')).length
        if (stored >= c.recorders.length + 1) break
        await sleep(100)
      }
      assert.equal(stored, c.recorders.length + 1)
    } finally {
      raw.disconnect()
    }
  })
})
