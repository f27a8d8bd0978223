// Durable rooms end to end over real TCP in one process (server.publish, client.subscribe): a subscriber gets the log then live, a cut
// connection (resumed session) and a lost session both recover from the last position exactly once,
// gaps are named when the log is shorter than the outage, and authorizeSubscribe refuses a room.

import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { isWirekitError } from '../../src/errors.ts'
import { type HistoryOptions, MessageClient, type MessageServer } from '../../src/messaging/index.ts'
import type { GapInfo, MessageMeta } from '../../src/messaging/subscription.ts'
import { freePort } from '../helpers/redis-server.ts'
import { Relay, startServer, waitFor } from './helpers.ts'

const cleanup: (() => Promise<unknown>)[] = []
after(async () => {
  for (const fn of cleanup.reverse()) await fn().catch(() => {})
})

async function setup(history: HistoryOptions, retention = 10_000) {
  const { server, port } = await startServer({ retention, history })
  cleanup.push(() => server.close())
  const rooms = server
  const relay = await Relay.start(port)
  cleanup.push(() => relay.close())
  const client = await MessageClient.connect(relay.url, { reconnect: { initialDelay: 20, maxDelay: 100 } })
  cleanup.push(() => client.close())
  const subs = client
  return { server, rooms, relay, client, subs }
}

function record(sub: {
  on(e: 'message', f: (d: unknown, m: MessageMeta) => void): unknown
  on(e: 'gap', f: (g: GapInfo) => void): unknown
}) {
  const got: number[] = []
  const meta: MessageMeta[] = []
  const gaps: GapInfo[] = []
  sub.on('message', (data, m) => {
    got.push((data as { n: number }).n)
    meta.push(m)
  })
  sub.on('gap', (g) => gaps.push(g))
  return { got, meta, gaps }
}
const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i)
async function publish(rooms: MessageServer, room: string, from: number, to: number) {
  const all = []
  for (let n = from; n <= to; n++) all.push(rooms.publish(room, 'chat', { n }))
  return Promise.all(all)
}

test('a subscriber from the start of the log gets what was published before, then live, with offsets', async () => {
  const { rooms, subs } = await setup({ store: 'memory' })
  const positions = await publish(rooms, 'lobby', 1, 50)
  const sub = await subs.subscribe('lobby', { recover: true, since: { offset: 0, epoch: '' } })
  const { got, meta } = record(sub)
  await publish(rooms, 'lobby', 51, 100)
  await waitFor(() => got.length >= 100, 10_000, '100 messages')
  assert.deepEqual(got, range(1, 100))
  assert.deepEqual(meta[0], { room: 'lobby', name: 'chat', offset: 1, epoch: positions[0]!.epoch })
})

test('a subscriber without since gets only what is published after it subscribed', async () => {
  const { rooms, subs } = await setup({ store: 'memory' })
  await publish(rooms, 'lobby', 1, 5)
  const sub = await subs.subscribe('lobby', { recover: true })
  const { got } = record(sub)
  await publish(rooms, 'lobby', 6, 10)
  await waitFor(() => got.length >= 5, 10_000, '5 messages')
  assert.deepEqual(got, range(6, 10))
})

test('connections cut while publishing: every message exactly once, in order', async () => {
  const { rooms, subs, relay } = await setup({ store: 'memory', maxMessages: 100_000 })
  const sub = await subs.subscribe('lobby', { recover: true })
  const { got } = record(sub)
  for (let round = 0; round < 5; round++) {
    const burst = publish(rooms, 'lobby', round * 200 + 1, round * 200 + 200)
    relay.cutAll()
    await burst
  }
  await waitFor(() => got.length >= 1000, 20_000, '1000 messages')
  assert.deepEqual(got, range(1, 1000))
})

test('a lost session re-subscribes from its last position and misses nothing', async () => {
  const { rooms, subs, relay, client } = await setup({ store: 'memory' }, 50)
  const sub = await subs.subscribe('lobby', { recover: true })
  const { got } = record(sub)
  await publish(rooms, 'lobby', 1, 10)
  await waitFor(() => got.length >= 10, 10_000, 'first 10')
  const lost = new Promise((resolve) => client.once('sessionLost', resolve))
  const serverPort = relay.targetPort
  relay.targetPort = await freePort() // nothing listens there: the client retries until it is back
  relay.cutAll()
  await publish(rooms, 'lobby', 11, 30) // while away; the session expires after 50 ms
  await new Promise((resolve) => setTimeout(resolve, 200))
  relay.targetPort = serverPort
  await lost
  await waitFor(() => got.length >= 30, 10_000, '30 messages')
  assert.deepEqual(got, range(1, 30))
})

test('an outage longer than the log: a gap names exactly the missing offsets, then the rest', async () => {
  const { rooms, subs, relay, client } = await setup({ store: 'memory', maxMessages: 10 }, 50)
  const sub = await subs.subscribe('lobby', { recover: true })
  const { got, gaps } = record(sub)
  await publish(rooms, 'lobby', 1, 5)
  await waitFor(() => got.length >= 5, 10_000, 'first 5')
  const lost = new Promise((resolve) => client.once('sessionLost', resolve))
  const serverPort = relay.targetPort
  relay.targetPort = await freePort() // nothing listens there: the client retries until it is back
  relay.cutAll()
  await publish(rooms, 'lobby', 6, 40) // the log keeps 31..40
  await new Promise((resolve) => setTimeout(resolve, 200))
  relay.targetPort = serverPort
  await lost
  await waitFor(() => got.length >= 15, 10_000, 'the rest')
  assert.deepEqual(
    gaps.map((g) => [g.reason, g.from, g.to, g.count]),
    [['trimmed', 6, 30, 25]],
  )
  assert.deepEqual(got, [...range(1, 5), ...range(31, 40)])
})

test('authorizeSubscribe refusing a room rejects subscribe with WK_SUBSCRIBE_DENIED', async () => {
  const { rooms, subs } = await setup({ store: 'memory' })
  rooms.authorizeSubscribe((_peer, room) => !room.startsWith('secret:'))
  await assert.rejects(
    subs.subscribe('secret:x'),
    (e) => isWirekitError(e) && e.code === 'WK_SUBSCRIBE_DENIED',
  )
  await subs.subscribe('open:x')
})

test('unsubscribe stops the feed on the server', async () => {
  const { rooms, subs } = await setup({ store: 'memory' })
  const sub = await subs.subscribe('lobby', { recover: true })
  const { got } = record(sub)
  await publish(rooms, 'lobby', 1, 3)
  await waitFor(() => got.length >= 3, 10_000, '3 messages')
  await sub.unsubscribe()
  await publish(rooms, 'lobby', 4, 6)
  await new Promise((resolve) => setTimeout(resolve, 100))
  assert.deepEqual(got, [1, 2, 3])
})

test('to(room).emit on a durable room reaches subscribers through the log, and joined peers as before', async () => {
  const { server, subs, client } = await setup({ store: 'memory' })
  for (const peer of server.peers.values()) peer.join('lobby') // the client is connected by setup()
  const sub = await subs.subscribe('lobby', { recover: true })
  const { got, meta } = record(sub)
  const joined: number[] = []
  client.on('chat', (data: { n: number }) => joined.push(data.n))
  const late = await MessageClient.connect(
    `tcp://127.0.0.1:${(server.addresses[0] as { port: number }).port}`,
  )
  cleanup.push(() => late.close())
  await new Promise((resolve) => setTimeout(resolve, 50))
  for (let n = 1; n <= 3; n++) server.to('lobby').emit('chat', { n })
  await waitFor(() => got.length >= 3 && joined.length >= 3, 10_000, '3 logged and 3 room messages')
  assert.deepEqual(got, [1, 2, 3])
  assert.deepEqual(joined, [1, 2, 3])
  assert.deepEqual(
    meta.map((m) => [m.name, m.offset]),
    [
      ['chat', 1],
      ['chat', 2],
      ['chat', 3],
    ],
  )
})

test('rooms the history option maps to false cannot be subscribed to or published in', async () => {
  const { server, subs } = await setup({ store: 'memory', rooms: { 'typing:*': false } })
  await assert.rejects(
    subs.subscribe('typing:lobby'),
    (e) => isWirekitError(e) && e.code === 'WK_SUBSCRIBE_DENIED',
  )
  assert.throws(
    () => server.publish('typing:lobby', 'typing', true),
    (e) => isWirekitError(e, 'WK_INVALID_ARGUMENT'),
  )
})

test('a server without the history option refuses publish() at once', async () => {
  const { server } = await startServer()
  cleanup.push(() => server.close())
  assert.throws(
    () => server.publish('lobby', 'chat', {}),
    (e) => isWirekitError(e, 'WK_INVALID_ARGUMENT'),
  )
})
