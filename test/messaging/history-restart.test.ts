// The embedded restart scenario of issue 12: a server process with SQLite history, a subscriber,
// 1,000 publications, the server killed with SIGKILL while delivering, restarted on the same port and
// file, 1,000 more published while the client reconnects: the subscriber has all 2,000 exactly once,
// in order. With a log smaller than the outage, a gap names exactly the offsets it cannot have.

import assert from 'node:assert/strict'
import { type ChildProcess, fork } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { MessageClient } from '../../src/messaging/index.ts'
import type { GapInfo } from '../../src/messaging/subscription.ts'
import { freePort } from '../helpers/redis-server.ts'
import { Relay, waitFor } from './helpers.ts'

const FIXTURE = fileURLToPath(new URL('./fixtures/history-server.ts', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'wirekit-history-restart-'))
const children = new Set<ChildProcess>()
const cleanup: (() => Promise<unknown>)[] = []
after(async () => {
  for (const fn of cleanup.reverse()) await fn().catch(() => {})
  for (const child of children) child.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
})

type Child = {
  port: number
  publish(from: number, to: number, paced?: boolean): Promise<void>
  kill(): Promise<void>
}

async function startServer(port: number, path: string, maxMessages: number): Promise<Child> {
  const child = fork(FIXTURE, [JSON.stringify({ port, path, maxMessages })], {
    execPath: process.execPath,
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  })
  children.add(child)
  const [ready] = (await once(child, 'message')) as [{ type: string; port: number }]
  return {
    port: ready.port,
    publish: async (from, to, paced = false) => {
      child.send({ publish: [from, to], paced })
      for (;;) {
        const [report] = (await once(child, 'message')) as [{ type: string; to: number }]
        if (report.type === 'published' && report.to === to) return
      }
    },
    kill: async () => {
      const exited = once(child, 'exit')
      child.kill('SIGKILL')
      await exited
      children.delete(child)
    },
  }
}

const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i)

async function subscriber(url: string) {
  const client = await MessageClient.connect(url, { reconnect: { initialDelay: 20, maxDelay: 200 } })
  cleanup.push(() => client.close())
  const sub = await client.subscribe('lobby', { recover: true })
  const got: number[] = []
  const gaps: GapInfo[] = []
  sub.on('message', (data) => got.push((data as { n: number }).n))
  sub.on('gap', (gap) => gaps.push(gap))
  return { got, gaps }
}

test('SIGKILL mid-delivery, restart on the same port and file, 1,000 more while reconnecting: 2,000 exactly once, in order', async () => {
  const path = join(dir, 'restart.sqlite')
  const first = await startServer(0, path, 10_000)
  const relay = await Relay.start(first.port)
  cleanup.push(() => relay.close())
  const { got, gaps } = await subscriber(relay.url)
  const published = first.publish(1, 1000, true)
  // Mid-stream: once 300 have arrived, what follows stays in flight (in the server, on the wire).
  await waitFor(() => got.length >= 300, 10_000, '300 messages')
  relay.blackhole = true
  await published // all 1,000 committed to the file
  await first.kill()
  assert.ok(got.length < 1000, `the kill was not mid-stream: ${got.length} delivered`)
  relay.blackhole = false
  const second = await startServer(first.port, path, 10_000)
  cleanup.push(() => second.kill())
  await second.publish(1001, 2000)
  await waitFor(() => got.length >= 2000, 30_000, `2000 messages (have ${got.length})`)
  await new Promise((resolve) => setTimeout(resolve, 100)) // a duplicate would arrive now
  assert.deepEqual(gaps, [])
  assert.deepEqual(got, range(1, 2000))
})

test('with maxMessages smaller than the outage: a gap names exactly the missing offsets, then the rest', async () => {
  const path = join(dir, 'gap.sqlite')
  const first = await startServer(0, path, 500)
  const relay = await Relay.start(first.port)
  cleanup.push(() => relay.close())
  const { got, gaps } = await subscriber(relay.url)
  await first.publish(1, 1000)
  await waitFor(() => got.length >= 1, 10_000, 'the first message')
  // The client cannot reach any server until the second 1,000 are published and the first ones trimmed.
  relay.targetPort = await freePort()
  await first.kill()
  const seen = got.length
  const second = await startServer(first.port, path, 500)
  cleanup.push(() => second.kill())
  await second.publish(1001, 2000)
  relay.targetPort = second.port
  await waitFor(() => got.length >= seen + 500 || got.at(-1) === 2000, 30_000, 'the rest')
  await new Promise((resolve) => setTimeout(resolve, 100))
  const have = got.indexOf(1500) === -1 ? got.filter((n) => n <= 1000).length : -1
  assert.ok(have >= seen && have <= 1000, `the client had ${have} before the outage`)
  assert.deepEqual(
    gaps.map((g) => [g.reason, g.from, g.to, g.count]),
    [['trimmed', have + 1, 1500, 1500 - have]],
  )
  assert.deepEqual(got, [...range(1, have), ...range(1501, 2000)])
})
