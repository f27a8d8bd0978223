// The decoded event-name cache is shared by every connection: one client sending hundreds of junk
// names must not keep another client's names out of it.
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { MessageClient, type Peer } from '../../src/messaging/index.ts'
import { isNameCached } from '../../src/messaging/wire/envelope.ts'
import { startServer } from '../messaging/helpers.ts'

const closers: (() => Promise<unknown>)[] = []
after(async () => {
  for (const close of closers.reverse()) await close()
})

test('after a client sends 1,000 junk event names, another client’s event name still enters and stays in the cache', async () => {
  const { server, url } = await startServer()
  closers.push(() => server.close())
  let chats = 0
  let junk = 0
  server.on('connection', (peer: Peer) => {
    peer.on('chat', () => chats++)
    for (let i = 0; i < 1000; i++) peer.on(`junk-${i}`, () => junk++)
  })
  const attacker = await MessageClient.connect(url, { reconnect: false })
  const other = await MessageClient.connect(url, { reconnect: false })
  closers.push(
    () => attacker.close(),
    () => other.close(),
  )
  await Promise.all(Array.from({ length: 1000 }, (_, i) => attacker.emit(`junk-${i}`, i)))
  assert.equal(junk, 1000)
  // A first-come table full of junk would never admit it; here its first use takes a slot.
  await other.emit('chat-room-message', 1)
  assert.equal(isNameCached('chat-room-message'), true)
  await Promise.all(Array.from({ length: 1000 }, (_, i) => attacker.emit(`junk-${i}`, i)))
  await other.emit('chat', 1)
  await other.emit('chat', 2)
  assert.equal(chats, 2)
  assert.equal(isNameCached('chat'), true)
})
