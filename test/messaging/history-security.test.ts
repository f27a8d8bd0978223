// Durable rooms against misuse and hostile peers: the room-message event name is reserved (nobody can
// forge a publication into a subscriber's log), room payloads obey `accept` on both sides, and hostile
// subscribe requests (rooms not allowed, huge `since`, bogus epoch) get a typed refusal or a gap, never
// a crash or someone else's data.
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { ErrorCodes, isWirekitError } from '../../src/errors.ts'
import {
  MemoryHistoryStore,
  MessageClient,
  MessageServer,
  type MessageServerOptions,
  type Peer,
} from '../../src/messaging/index.ts'
import { encodePublication, ROOM_EVENT, storedPayload } from '../../src/messaging/room-message.ts'
import { Kind } from '../../src/messaging/wire/envelope.ts'
import { message, RawPeer } from '../security/raw-peer.ts'

const cleanup: (() => unknown)[] = []
after(async () => {
  for (const fn of cleanup.reverse()) await fn()
})

async function server(options: MessageServerOptions = {}) {
  const s = new MessageServer({ history: { store: 'memory' }, ...options })
  cleanup.push(() => s.close())
  const address = await s.listen({ host: '127.0.0.1', port: 0 })
  return { server: s, url: `tcp://127.0.0.1:${'port' in address ? address.port : 0}` }
}

async function client(url: string, options: Parameters<typeof MessageClient.connect>[1] = {}) {
  const c = await MessageClient.connect(url, { reconnect: false, ...options })
  cleanup.push(() => c.close())
  return c
}

const settle = () => new Promise((r) => setTimeout(r, 150))

test('the room-message event name is reserved: the server cannot emit it to a room or a peer, so no publication is forged', async () => {
  const { server: s, url } = await server()
  const peers: Peer[] = []
  s.on('connection', (peer: Peer) => peers.push(peer))
  const c = await client(url)
  const sub = await c.subscribe('lobby', { recover: true })
  const got: unknown[] = []
  sub.on('message', (data) => got.push(data))
  const peer = peers[0]!
  peer.join('lobby')
  const forged = encodePublication(
    'lobby',
    'chat',
    'forged',
    999,
    storedPayload(1, new TextEncoder().encode('"from mallory"')),
  )
  const reserved = (e: unknown) =>
    isWirekitError(e, ErrorCodes.INVALID_ARGUMENT) && /reserved/.test(String(e))
  assert.throws(() => s.to('lobby').emit(ROOM_EVENT, forged), reserved)
  assert.throws(() => s.emit(ROOM_EVENT, forged), reserved)
  await assert.rejects(async () => peer.emit(ROOM_EVENT, forged), reserved)
  await settle()
  assert.deepEqual(got, [])
  // The real path still works.
  await s.publish('lobby', 'chat', 'hello')
  await settle()
  assert.deepEqual(got, ['hello'])
})

test('a client cannot send the room-message event, and the server refuses one a raw client sends', async () => {
  const { server: s, url } = await server()
  const heard: unknown[] = []
  s.on('connection', (peer: Peer) => peer.on(ROOM_EVENT, (d: unknown) => heard.push(d)))
  const c = await client(url)
  await assert.rejects(
    async () => c.emit(ROOM_EVENT, new Uint8Array([1])),
    (e) => isWirekitError(e, ErrorCodes.INVALID_ARGUMENT),
  )
  const raw = await RawPeer.connect(Number(new URL(url).port))
  cleanup.push(() => raw.destroy())
  await raw.login()
  raw.write(message(Kind.EVENT, 1, ROOM_EVENT, { x: 1 }))
  await raw.until(() => raw.closed, 5000, 'the server to close')
  assert.equal(raw.goaway?.code, ErrorCodes.PROTOCOL)
  assert.deepEqual(heard, [])
})

test('a client whose accept excludes MessagePack does not decode a MessagePack publication: the subscription reports WK_PROTOCOL', async () => {
  // Another node (codec msgpack) logged it in the shared store; this client's server speaks JSON.
  const store = new MemoryHistoryStore()
  const { server: packer } = await server({ codec: 'msgpack', history: { store } })
  const { url } = await server({ history: { store } })
  await packer.publish('lobby', 'chat', { text: 'packed' })
  const c = await client(url, { accept: ['json'] })
  const sub = await c.subscribe('lobby', { recover: true, since: { offset: 0, epoch: '' } })
  const got: unknown[] = []
  const errors: unknown[] = []
  sub.on('message', (data) => got.push(data))
  sub.on('error', (e) => errors.push(e))
  await settle()
  assert.deepEqual(got, [])
  assert.equal(errors.length, 1)
  assert.ok(isWirekitError(errors[0], ErrorCodes.PROTOCOL), String(errors[0]))
  // A client that accepts MessagePack reads it.
  const other = await client(url)
  const sub2 = await other.subscribe('lobby', { recover: true, since: { offset: 0, epoch: '' } })
  const got2: unknown[] = []
  sub2.on('message', (data) => got2.push(data))
  await settle()
  assert.deepEqual(got2, [{ text: 'packed' }])
})

test('server.history() refuses MessagePack entries another node logged when this server does not accept MessagePack', async () => {
  const store = new MemoryHistoryStore()
  const { server: packer } = await server({ codec: 'msgpack', history: { store } })
  const { server: strict } = await server({ history: { store } })
  await packer.publish('lobby', 'chat', { text: 'packed' })
  await assert.rejects(strict.history('lobby'), (e) => isWirekitError(e, ErrorCodes.PROTOCOL))
  assert.deepEqual(
    (await packer.history('lobby')).map((e) => e.data),
    [{ text: 'packed' }],
  )
})

test('hostile subscribes: a room refused by authorizeSubscribe, a huge since, a bogus epoch, a malformed since', async () => {
  const { server: s, url } = await server()
  s.authorizeSubscribe((_peer, room) => room !== 'secret')
  for (let i = 1; i <= 3; i++) await s.publish('secret', 'chat', `secret ${i}`)
  await s.publish('lobby', 'chat', 'public 1')
  const c = await client(url)
  const secrets: unknown[] = []
  c.on(ROOM_EVENT, (d: unknown) => secrets.push(d))
  await assert.rejects(c.subscribe('secret', { recover: true, since: { offset: 0, epoch: '' } }), (e) =>
    isWirekitError(e, ErrorCodes.SUBSCRIBE_DENIED),
  )
  await settle()
  assert.deepEqual(secrets, [], 'nothing of the refused room reaches the client')

  const head = (await s.history('lobby', { last: 1 }))[0]!
  // A position past the head of this epoch is not something this log ever handed out: a gap, not silence.
  for (const since of [
    { offset: 2 ** 48 - 1, epoch: head.epoch },
    { offset: 5, epoch: 'bogus-epoch' },
  ]) {
    const sub = await c.subscribe('lobby', { recover: true, since })
    const gaps: unknown[] = []
    const got: unknown[] = []
    sub.on('gap', (g) => gaps.push(g))
    sub.on('message', (d) => got.push(d))
    await settle()
    assert.equal(gaps.length, 1, JSON.stringify(since))
    assert.deepEqual(got, ['public 1'], JSON.stringify(since))
    await sub.unsubscribe()
  }
  for (const since of [
    { offset: -1, epoch: 'x' },
    { offset: 2 ** 60, epoch: 'x' },
    { offset: 1.5, epoch: 'x' },
    { offset: 1, epoch: 'e'.repeat(100_000) },
  ]) {
    await assert.rejects(
      c.request('wirekit:subscribe', { room: 'lobby', since }),
      (e: Error & { remoteCode?: string }) => e.remoteCode === ErrorCodes.INVALID_ARGUMENT,
      JSON.stringify(since).slice(0, 80),
    )
  }
  assert.ok(c.connected, 'the client is still connected after its bad requests')
})
