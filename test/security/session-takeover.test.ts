// Session takeover (issue 10): a session resumes only with its secret token and, where authenticate gave
// one, the same identity; a live owner is never silently displaced; peers' own rooms cannot be joined.
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { chatServer } from '../../src/cli/serve.ts'
import { ErrorCodes, isWirekitError } from '../../src/errors.ts'
import { MessageClient, type MessageServer, type Peer } from '../../src/messaging/index.ts'
import { nextEvent, startServer, waitFor } from '../messaging/helpers.ts'
import { rawHello } from './raw-client.ts'

const cleanup: (() => unknown)[] = []
after(async () => {
  for (const fn of cleanup.reverse()) await fn()
})

async function serve(options: Parameters<typeof startServer>[0] = {}) {
  const started = await startServer({ retention: 10_000, ...options })
  cleanup.push(() => started.server.close())
  started.server.on('connection', (peer: Peer) => {
    peer.on('join', (room: string) => peer.join(room))
  })
  return started
}

async function connect(url: string, credentials?: unknown): Promise<MessageClient> {
  const client = await MessageClient.connect(url, {
    credentials,
    reconnect: { initialDelay: 20, maxDelay: 100 },
  })
  cleanup.push(() => client.close())
  return client
}

/** Sends m0..m4 to the session's own room and waits until `client` has them. */
async function pushFive(server: MessageServer, id: string, got: string[]): Promise<void> {
  for (let i = 0; i < 5; i++) server.to(id).emit('m', `m${i}`)
  await waitFor(() => got.length >= 5, 5000, 'm0–m4 at the owner')
}

describe('session takeover', () => {
  test('a session id without its resume token opens a new session, and the owner keeps every message', async () => {
    const { server, url, port } = await serve()
    const victim = await connect(url)
    const got: string[] = []
    victim.on('m', (m: string) => got.push(m))
    const id = victim.sessionId!
    const { raw, welcome } = await rawHello(port, { session: id })
    cleanup.push(() => raw.destroy())
    assert.equal(welcome.resumed, false)
    assert.notEqual(welcome.session, id)
    const guess = await rawHello(port, { session: id, token: 'A'.repeat(32) })
    cleanup.push(() => guess.raw.destroy())
    assert.equal(guess.welcome.resumed, false)
    await pushFive(server, id, got)
    assert.deepEqual(got, ['m0', 'm1', 'm2', 'm3', 'm4'])
    assert.equal(victim.state, 'connected')
    assert.ok(!raw.messages.some((m) => m.name === 'm'), 'the attacker received none of it')
  })

  test('authenticate returning true does not make every login the owner of every session', async () => {
    const { server, url, port } = await serve({ authenticate: () => true })
    const victim = await connect(url, { user: 'alice' })
    const got: string[] = []
    victim.on('m', (m: string) => got.push(m))
    const { raw, welcome } = await rawHello(port, {
      session: victim.sessionId,
      credentials: { user: 'mallory' },
    })
    cleanup.push(() => raw.destroy())
    assert.equal(welcome.resumed, false)
    await pushFive(server, victim.sessionId!, got)
    assert.equal(victim.state, 'connected')
  })

  test('the token of another identity’s session does not resume it', async () => {
    const { server, url, port } = await serve({ authenticate: (c) => (c as { user: string }).user })
    const victim = await connect(url, { user: 'alice' })
    const got: string[] = []
    victim.on('m', (m: string) => got.push(m))
    const token = server.peers.get(victim.sessionId!)!.resumeToken
    const { raw, welcome } = await rawHello(port, {
      session: victim.sessionId,
      token,
      credentials: { user: 'mallory' },
    })
    cleanup.push(() => raw.destroy())
    assert.equal(welcome.resumed, false)
    await pushFive(server, victim.sessionId!, got)
  })

  test('a second device with the same identity and session id does not take a live session over', async () => {
    const { server, url, port } = await serve({ authenticate: (c) => (c as { user: string }).user })
    const first = await connect(url, { user: 'alice' })
    const got: string[] = []
    first.on('m', (m: string) => got.push(m))
    const { raw, welcome } = await rawHello(port, {
      session: first.sessionId,
      credentials: { user: 'alice' },
    })
    cleanup.push(() => raw.destroy())
    assert.equal(welcome.resumed, false)
    await pushFive(server, first.sessionId!, got)
    assert.deepEqual(got, ['m0', 'm1', 'm2', 'm3', 'm4'])
    assert.equal(first.state, 'connected')
  })

  test('a live session taken over with its token tells the first device with WK_SESSION_TAKEN_OVER, and its messages go to the new holder', async () => {
    const { server, url, port } = await serve({ authenticate: (c) => (c as { user: string }).user })
    const first = await connect(url, { user: 'alice' })
    const peer = server.peers.get(first.sessionId!)!
    const closed = nextEvent<Error>(first, 'close')
    const { raw, welcome } = await rawHello(port, {
      session: first.sessionId,
      token: peer.resumeToken,
      credentials: { user: 'alice' },
    })
    cleanup.push(() => raw.destroy())
    assert.equal(welcome.resumed, true)
    const reason = await closed
    assert.ok(isWirekitError(reason, ErrorCodes.SESSION_TAKEN_OVER), String(reason))
    for (let i = 0; i < 5; i++) server.to(first.sessionId!).emit('m', `m${i}`)
    await waitFor(() => raw.messages.filter((m) => m.name === 'm').length === 5, 5000, 'm0–m4 at the holder')
  })

  test('the client resumes transparently with its token after a cut', async () => {
    const { server, url } = await serve({ authenticate: (c) => (c as { user: string }).user })
    const client = await connect(url, { user: 'alice' })
    const id = client.sessionId!
    const resumed = nextEvent(client, 'resumed')
    // Cut the transport from the server side: the session is retained, the client comes back.
    ;(server.peers.get(id) as unknown as { conn: { close(e?: Error): void } }).conn.close(new Error('cut'))
    await resumed
    assert.equal(client.sessionId, id)
  })

  test('joining a room named after another session throws, and server.to(victimId) reaches only the victim', async () => {
    const { server, url } = await serve()
    const errors: Error[] = []
    server.on('error', (error: Error) => errors.push(error))
    const victim = await connect(url)
    const attacker = await connect(url)
    const gotVictim: string[] = []
    const gotAttacker: string[] = []
    victim.on('m', (m: string) => gotVictim.push(m))
    attacker.on('m', (m: string) => gotAttacker.push(m))
    await attacker.emit('join', victim.sessionId)
    await waitFor(() => errors.length === 1, 2000, 'the join refusal on the server’s error event')
    assert.ok(isWirekitError(errors[0], ErrorCodes.INVALID_ARGUMENT), String(errors[0]))
    await pushFive(server, victim.sessionId!, gotVictim)
    assert.deepEqual(gotAttacker, [])
  })

  test('the resume token is not the id and is never listed or printed', async () => {
    const lines: string[] = []
    // The chat server of `wirekit serve`, which prints a line per connection.
    const server = chatServer({ log: (line) => lines.push(line) })
    cleanup.push(() => server.close())
    const address = (await server.listen({ port: 0, host: '127.0.0.1' })) as { port: number }
    const client = await connect(`tcp://127.0.0.1:${address.port}`, { name: 'alice' })
    const peer = server.peers.get(client.sessionId!)!
    const token = peer.resumeToken
    assert.ok(token.length >= 22, 'at least 128 bits')
    assert.notEqual(token, peer.id)
    const listed = JSON.stringify(await server.fetchPeers())
    assert.ok(listed.includes(peer.id))
    assert.ok(!listed.includes(token))
    assert.ok(![...peer.rooms].some((room) => room.includes(token)))
    assert.ok(!JSON.stringify(peer.snapshot()).includes(token), 'stores get a digest, never the token')
    await waitFor(() => lines.length > 0, 2000, 'the connection line')
    assert.ok(!lines.join('\n').includes(token))
    assert.equal(Object.keys(peer).includes('resumeToken'), false)
  })
})
