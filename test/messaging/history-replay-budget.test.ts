// A subscriber that missed more than its connection's buffer holds (peerBuffer) is fed its replay as it
// acknowledges, not cut as a slow consumer: it recovers everything on the same session.
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { MessageClient, MessageServer } from '../../src/messaging/index.ts'

const cleanup: (() => unknown)[] = []
after(async () => {
  for (const fn of cleanup.reverse()) await fn()
})

test('a replay larger than the peer buffer arrives whole, on the same session, without a slow-consumer cut', async () => {
  const server = new MessageServer({
    history: { store: 'memory', maxMessages: 100_000 },
    peerBuffer: { maxMessages: 500 },
  })
  cleanup.push(() => server.close())
  const { port } = (await server.listen({ host: '127.0.0.1', port: 0 })) as { port: number }
  const missed = 5_000
  for (let i = 1; i <= missed; i++) await server.publish('room', 'm', i)
  const client = await MessageClient.connect(`tcp://127.0.0.1:${port}`)
  cleanup.push(() => client.close())
  const session = client.sessionId
  const states: string[] = []
  client.on('state', (s: string) => states.push(s))
  const got: number[] = []
  const sub = await client.subscribe('room', { recover: true, since: { offset: 0, epoch: '' } })
  sub.on('message', (n) => got.push(n as number))
  const deadline = Date.now() + 30_000
  while (got.length < missed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
  assert.equal(got.length, missed)
  assert.ok(
    got.every((n, i) => n === i + 1),
    'in order, once each',
  )
  assert.equal(client.sessionId, session)
  assert.deepEqual(states, [], 'the connection never dropped')
})
