// Session takeover on Redis (issue 10): a claim moves a session's ownership only after the token and
// identity checks pass, so a valid login presenting another user's id on node 2 cannot kick that user
// off node 1. A real redis-server, two nodes in this process.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { MessageClient, MessageServer, RedisAdapter } from '../../src/messaging/index.ts'
import { type RedisServer, startRedisServer } from '../helpers/redis-server.ts'
import { waitFor } from '../messaging/helpers.ts'
import { rawHello } from './raw-client.ts'

type Node = { server: MessageServer; port: number; url: string }

async function startNode(redis: string, prefix: string): Promise<Node> {
  const adapter = new RedisAdapter({ redis, prefix, retention: 10_000 })
  const server = new MessageServer({
    adapter,
    retention: 10_000,
    authenticate: (credentials) => (credentials as { user?: string } | undefined)?.user ?? false,
  })
  const address = (await server.listen({ port: 0, host: '127.0.0.1' })) as { port: number }
  await adapter.ready()
  return { server, port: address.port, url: `tcp://127.0.0.1:${address.port}` }
}

describe('session takeover on Redis', () => {
  let redis: RedisServer
  let one: Node
  let two: Node
  const clients: MessageClient[] = []

  before(async () => {
    redis = await startRedisServer()
    const prefix = `s${randomBytes(4).toString('hex')}`
    one = await startNode(redis.url, prefix)
    two = await startNode(redis.url, prefix)
  })

  after(async () => {
    for (const client of clients) await client.close()
    await one.server.close()
    await two.server.close()
    await redis.stop()
  })

  test('another valid login presenting a session id on node 2 gets a new session and leaves the owner on node 1 alone', async () => {
    const alice = await MessageClient.connect(one.url, { credentials: { user: 'alice' } })
    clients.push(alice)
    const got: string[] = []
    alice.on('m', (m: string) => got.push(m))
    const id = alice.sessionId!
    // Let node 1 write the session to Redis first.
    await new Promise((r) => setTimeout(r, 200))
    const token = one.server.peers.get(id)!.resumeToken
    const attempts = [
      { session: id, credentials: { user: 'mallory' } },
      { session: id, token: 'B'.repeat(32), credentials: { user: 'alice' } },
      { session: id, token, credentials: { user: 'mallory' } },
    ]
    for (const hello of attempts) {
      const { raw, welcome } = await rawHello(two.port, hello)
      raw.destroy()
      assert.equal(welcome.resumed, false, JSON.stringify({ ...hello, token: hello.token && '…' }))
      assert.notEqual(welcome.session, id)
    }
    await new Promise((r) => setTimeout(r, 200))
    const peer = one.server.peers.get(id)
    assert.ok(peer !== undefined && !peer.closed, 'the session still lives on node 1')
    for (let i = 0; i < 5; i++) one.server.to(id).emit('m', `m${i}`)
    await waitFor(() => got.length === 5, 5000, 'm0–m4 at alice')
    assert.deepEqual(got, ['m0', 'm1', 'm2', 'm3', 'm4'])
    assert.equal(alice.state, 'connected')
  })

  test('the owner presenting its token and identity on node 2 resumes there', async () => {
    const bob = await MessageClient.connect(one.url, { credentials: { user: 'bob' } })
    clients.push(bob)
    const id = bob.sessionId!
    await new Promise((r) => setTimeout(r, 200))
    const token = one.server.peers.get(id)!.resumeToken
    const { raw, welcome } = await rawHello(two.port, { session: id, token, credentials: { user: 'bob' } })
    raw.destroy()
    assert.equal(welcome.resumed, true)
    assert.equal(welcome.session, id)
  })
})
