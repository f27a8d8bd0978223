import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { type ChatLine, serve } from '../../src/cli/serve.ts'
import { MessageClient, type MessageServer } from '../../src/messaging/index.ts'
import { type RedisServer, startRedisServer } from '../helpers/redis-server.ts'

test('two `serve --redis` nodes relay a chat line between clients on different nodes, and `who` lists both', async () => {
  const cleanup: (() => Promise<unknown>)[] = []
  after(async () => {
    for (const fn of cleanup.reverse()) await fn()
  })
  const redis: RedisServer = await startRedisServer()
  cleanup.push(() => redis.stop())
  const nodes: MessageServer[] = []
  for (let i = 0; i < 2; i++) {
    const node = await serve({
      host: '127.0.0.1',
      port: 0,
      redis: redis.url,
      signal: AbortSignal.abort(),
      log: () => {},
    })
    cleanup.push(async () => {
      await node.close()
      await node.adapter.close()
    })
    nodes.push(node)
  }
  const urlOf = (node: MessageServer) => {
    const a = node.addresses[0]!
    return `tcp://127.0.0.1:${'port' in a ? a.port : 0}`
  }
  const alice = await MessageClient.connect(urlOf(nodes[0]!), { credentials: { name: 'alice' } })
  const bob = await MessageClient.connect(urlOf(nodes[1]!), { credentials: { name: 'bob' } })
  cleanup.push(
    () => alice.close(),
    () => bob.close(),
  )
  await alice.request('join', 'lobby')
  await bob.request('join', 'lobby')
  const heard = new Promise<ChatLine>((resolve) => bob.on('message', resolve))
  await alice.emit('say', { room: 'lobby', text: 'across nodes' })
  const line = await heard
  assert.deepEqual([line.from, line.text], ['alice', 'across nodes'])
  // Presence asks every node: each side sees the user on the other node too.
  assert.deepEqual(await alice.request('who', 'lobby'), ['alice', 'bob'])
  assert.deepEqual(await bob.request('who', 'lobby'), ['alice', 'bob'])
  assert.deepEqual(await bob.request('who', 'elsewhere'), [])
})
