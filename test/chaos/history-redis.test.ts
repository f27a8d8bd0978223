// Durable rooms on Redis under chaos (issue 12): three server processes on one real redis-server, 300
// subscribers spread over them, every node publishing; one node is SIGKILLed mid-stream, then Redis is
// restarted without persistence (all data gone) mid-stream. Every subscriber must end with every
// acknowledged publication of its room, or a gap that covers exactly what it lacks: no silent loss,
// no duplicate. 5 runs in `npm test`, 50 with WIREKIT_CHAOS=long (`npm run chaos`).

import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { after, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { type GapInfo, MessageClient } from '../../src/messaging/index.ts'
import { type RedisServer, startRedisServer } from '../helpers/redis-server.ts'
import type { BurstResult } from './fixtures/history-node.ts'
import { LONG, sleep, waitFor } from './stream-harness.ts'

const RUNS = LONG ? 50 : 5
const SUBSCRIBERS = 300
const ROOMS = ['r0', 'r1', 'r2']
/** Bursts per publishing node, and messages per burst. */
const BURSTS = 24
const PER_BURST = 8
/** Node 2 is killed before this burst of node 0; Redis restarts one burst later, while its clients fail over. */
const KILL_AT = 8
const REDIS_RESTART_AT = 9
const SCRIPT = fileURLToPath(new URL('./fixtures/history-node.ts', import.meta.url))

type Node = { child: ChildProcess; port: number }
type Received = { epoch: string; offset: number; key: string }
type Subscriber = { client: MessageClient; room: string; received: Received[]; gaps: GapInfo[] }
type Acked = { epoch: string; offset: number; key: string }

const live: { nodes: Node[]; clients: MessageClient[]; redis?: RedisServer }[] = []
after(async () => {
  for (const run of live) await teardown(run)
})

async function startNode(redisUrl: string, prefix: string): Promise<Node> {
  const child = spawn(process.execPath, [SCRIPT, redisUrl, prefix], { stdio: ['pipe', 'pipe', 'pipe'] })
  let err = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    if (err.length < 20_000) err += chunk.toString()
  })
  return new Promise((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`history-node did not start: ${err}`)), 30_000)
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const nl = out.indexOf('\n')
      if (nl < 0) return
      clearTimeout(timer)
      resolve({ child, port: (JSON.parse(out.slice(0, nl)) as { port: number }).port })
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`history-node exited with ${code}: ${err}`))
    })
  })
}

async function killNode(node: Node): Promise<void> {
  const { child } = node
  if (child.exitCode !== null || child.signalCode !== null) return
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGKILL')
  await gone
}

async function teardown(run: (typeof live)[number]): Promise<void> {
  await Promise.allSettled(run.clients.splice(0).map((c) => c.close()))
  await Promise.all(run.nodes.splice(0).map(killNode))
  await run.redis?.stop()
  run.redis = undefined
}

/** Acknowledged messages the subscriber did not get because a gap told it they are gone. */
function reportedLost(sub: Subscriber, acked: Acked[]): number {
  const got = new Set(sub.received.map((r) => `${r.epoch}:${r.offset}`))
  return acked.filter((a) => !got.has(`${a.epoch}:${a.offset}`)).length
}

/** What is wrong with one subscriber's account of its room (empty when it is exact). */
function problems(sub: Subscriber, acked: Acked[]): string[] {
  const out: string[] = []
  const got = new Set<string>()
  const keys = new Set<string>()
  for (const r of sub.received) {
    const at = `${r.epoch}:${r.offset}`
    if (got.has(at) || keys.has(r.key)) out.push(`duplicate ${at} (${r.key})`)
    got.add(at)
    keys.add(r.key)
  }
  const covered = (a: Acked) =>
    sub.gaps.some(
      (g) =>
        (g.reason === 'epoch' && g.previous?.epoch === a.epoch && a.offset > g.previous.offset) ||
        (g.epoch === a.epoch && g.count > 0 && a.offset >= g.from && a.offset <= g.to),
    )
  let silent = 0
  for (const a of acked) {
    const at = `${a.epoch}:${a.offset}`
    if (got.has(at)) {
      if (!keys.has(a.key)) out.push(`${at} carried another message than ${a.key}`)
    } else if (!covered(a)) silent++
  }
  if (silent > 0) out.push(`${silent} acknowledged message(s) neither received nor covered by a gap`)
  // A gap claims only what the subscriber does not have.
  for (const g of sub.gaps) {
    for (const r of sub.received) {
      const claimed =
        (g.reason === 'epoch' && g.previous?.epoch === r.epoch && r.offset > g.previous.offset) ||
        (g.epoch === r.epoch && g.count > 0 && r.offset >= g.from && r.offset <= g.to)
      if (claimed) out.push(`gap ${JSON.stringify(g)} covers ${r.epoch}:${r.offset}, which was received`)
    }
  }
  return out
}

async function oneRun(run: number): Promise<string> {
  const redis = await startRedisServer()
  const state: (typeof live)[number] = { nodes: [], clients: [], redis }
  live.push(state)
  const prefix = `h${randomBytes(4).toString('hex')}`
  state.nodes.push(...(await Promise.all([0, 1, 2].map(() => startNode(redis.url, prefix)))))
  const urls = state.nodes.map((n) => `tcp://127.0.0.1:${n.port}`)

  const subscribers: Subscriber[] = []
  for (let start = 0; start < SUBSCRIBERS; start += 50) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(50, SUBSCRIBERS - start) }, async (_, k) => {
        const i = start + k
        // Client i prefers node i % 3, then fails over to the others.
        const order = urls.map((_u, j) => urls[(i + j) % urls.length]!)
        const client = await MessageClient.connect(order, { reconnect: { initialDelay: 50, maxDelay: 500 } })
        state.clients.push(client)
        client.on('error', () => {}) // a re-subscribe refused while Redis is down is retried on reconnect
        const sub: Subscriber = { client, room: ROOMS[i % ROOMS.length]!, received: [], gaps: [] }
        const subscription = await client.subscribe(sub.room, { recover: true })
        subscription.on('message', (data, meta) => {
          const m = data as { from: string; n: number }
          sub.received.push({ epoch: meta.epoch, offset: meta.offset, key: `${m.from}/${m.n}` })
        })
        subscription.on('gap', (g) => sub.gaps.push(g))
        return sub
      }),
    )
    subscribers.push(...batch)
  }

  const publishers = await Promise.all(urls.map((url) => MessageClient.connect(url, { reconnect: false })))
  state.clients.push(...publishers)
  const acked = new Map<string, Acked[]>(ROOMS.map((r) => [r, []]))
  let failed = 0
  let unknown = 0
  const publish = async (node: number) => {
    for (let b = 0; b < BURSTS; b++) {
      if (node === 0 && b === KILL_AT) await killNode(state.nodes[2]!)
      if (node === 0 && b === REDIS_RESTART_AT) await redis.restart(100)
      if (node === 2 && b >= KILL_AT) return
      let results: BurstResult[]
      try {
        results = await publishers[node]!.request<BurstResult[]>(
          'burst',
          { rooms: ROOMS, from: `n${node}`, start: b * PER_BURST, count: PER_BURST },
          { timeout: 15_000 },
        )
      } catch {
        unknown += PER_BURST // the node died with the burst in hand: whatever it stored may arrive
        return
      }
      for (const r of results) {
        if (r.offset === undefined) failed++
        else acked.get(r.room)!.push({ epoch: r.epoch!, offset: r.offset, key: `n${node}/${r.n}` })
      }
      await sleep(5)
    }
  }
  await Promise.all([0, 1, 2].map(publish))

  const report = () =>
    subscribers.flatMap((s, i) => problems(s, acked.get(s.room)!).map((p) => `subscriber ${i}: ${p}`))
  await waitFor(() => report().length === 0, 30_000, `run ${run}: ${report().slice(0, 5).join('; ')}`).catch(
    () => {},
  )
  await sleep(100) // anything late would be a duplicate
  assert.deepEqual(report().slice(0, 10), [], `run ${run}`)
  const epochs = new Set([...acked.values()].flat().map((a) => a.epoch))
  assert.ok(epochs.size >= 2, `run ${run}: Redis lost its data mid-stream, so there are two epochs`)
  const withEpochGap = subscribers.filter((s) => s.gaps.some((g) => g.reason === 'epoch')).length
  const received = subscribers.reduce((sum, s) => sum + s.received.length, 0)
  const lost = subscribers.reduce((sum, s) => sum + reportedLost(s, acked.get(s.room)!), 0)
  const ackedCount = [...acked.values()].reduce((sum, a) => sum + a.length, 0)
  await teardown(state)
  return `run ${run}: ${ackedCount} acknowledged, ${failed} refused (Redis down), ${unknown} in flight on the killed node; ${received} deliveries to ${SUBSCRIBERS} subscribers, ${withEpochGap} told of the epoch gap, ${lost} deliveries lost with Redis's data and covered by it; 0 silent losses, 0 duplicates`
}

test(`Redis durable rooms: 3 nodes, ${SUBSCRIBERS} subscribers, a node killed and Redis restarted without data mid-stream, ${RUNS} runs: every subscriber has every message or an exact gap`, {
  timeout: RUNS * 90_000,
}, async () => {
  for (let run = 1; run <= RUNS; run++) {
    const summary = await oneRun(run)
    console.log(`[chaos] ${summary}`)
  }
})
