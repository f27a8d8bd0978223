import assert from 'node:assert/strict'
import net from 'node:net'
import { after, describe, test } from 'node:test'
import { ErrorCodes, isWirekitError } from '../../src/errors.ts'
import { lengthField } from '../../src/framing/index.ts'
import {
  MessageClient,
  MessageServer,
  type Peer,
  type UnacknowledgedMessage,
} from '../../src/messaging/index.ts'
import { decodeEnvelope, Format, Kind, newEnvelope } from '../../src/messaging/wire/envelope.ts'
import { encodeFrame } from '../../src/messaging/wire/frame-writer.ts'
import { nextEvent, Relay, startServer, waitFor } from './helpers.ts'

describe('sessionLost', () => {
  const cleanup: (() => Promise<unknown>)[] = []
  after(async () => {
    for (const fn of cleanup.reverse()) await fn()
  })

  test('a server restart without shared state reports the unacknowledged messages; unsent ones carry over', async () => {
    const first = await startServer()
    const relay = await Relay.start(first.port)
    const client = await MessageClient.connect(relay.url, { reconnect: { initialDelay: 20, maxDelay: 50 } })
    cleanup.push(
      () => client.close(),
      () => relay.close(),
    )
    await client.emit('before', 1)
    // Written to the transport but never acknowledged: the server's fate is unknown.
    relay.blackhole = true
    const lostEmit = client.emit('inflight', { n: 2 })
    const lostRequest = client.request('whatever', { n: 3 }, { timeout: 10_000 })
    await new Promise((r) => setTimeout(r, 30))
    await first.server.close()
    await waitFor(() => client.state !== 'connected', 3000, 'the client to notice')
    relay.blackhole = false
    // Never written anywhere: safe to deliver in the new session.
    const carried = client.emit('queued', { n: 4 })

    const second = new MessageServer()
    await second.listen({ port: first.port, host: '127.0.0.1' })
    cleanup.push(() => second.close())
    const received: unknown[] = []
    second.on('connection', (peer: Peer) => peer.on('queued', (data) => received.push(data)))
    const [unacknowledged, error] = await new Promise<[UnacknowledgedMessage[], Error]>((resolve) =>
      client.once('sessionLost', (list: UnacknowledgedMessage[], e: Error) => resolve([list, e])),
    )
    assert.ok(isWirekitError(error, ErrorCodes.SESSION_LOST))
    assert.deepEqual(unacknowledged, [
      { kind: 'event', name: 'inflight', data: { n: 2 } },
      { kind: 'request', name: 'whatever', data: { n: 3 } },
    ])
    await assert.rejects(lostEmit, (e) => isWirekitError(e, ErrorCodes.SESSION_LOST))
    await assert.rejects(lostRequest, (e) => isWirekitError(e, ErrorCodes.SESSION_LOST))
    await carried
    assert.deepEqual(received, [{ n: 4 }])
    assert.equal(client.state, 'connected')
  })

  test('a session whose retention expired is lost, and the server reports its end', async () => {
    const { server, url } = await startServer({ retention: 100 })
    cleanup.push(() => server.close())
    const connected = nextEvent<Peer>(server, 'connection')
    const client = await MessageClient.connect(url, { reconnect: { initialDelay: 600, jitter: 0 } })
    cleanup.push(() => client.close())
    const peer = await connected
    const firstSession = client.sessionId
    const ended = nextEvent<Error>(peer, 'close', 3000)
    // Server pushes during the absence would be lost with the session: the client is told.
    peer.conn?.socket.destroy()
    await waitFor(() => !peer.connected, 1000, 'the peer to detach')
    const pushed = peer.emit('missed', 1)
    pushed.catch(() => {})
    const reason = await ended
    assert.ok(isWirekitError(reason, ErrorCodes.SESSION_LOST))
    await assert.rejects(pushed, (e) => isWirekitError(e, ErrorCodes.SESSION_LOST))
    const lost = await nextEvent(client, 'sessionLost', 3000)
    assert.deepEqual(lost, [])
    assert.notEqual(client.sessionId, firstSession)
    assert.equal(server.peers.has(firstSession!), false)
  })

  test('within retention the same session resumes and keeps its rooms and queued pushes', async () => {
    const { server, url } = await startServer({ retention: 5000 })
    cleanup.push(() => server.close())
    const connected = nextEvent<Peer>(server, 'connection')
    const client = await MessageClient.connect(url, { reconnect: { initialDelay: 100, jitter: 0 } })
    cleanup.push(() => client.close())
    const peer = await connected
    peer.join('news')
    const got: unknown[] = []
    client.on('headline', (h) => got.push(h))
    peer.conn?.socket.destroy()
    await waitFor(() => !peer.connected, 1000, 'the peer to detach')
    server.to('news').emit('headline', 'while you were away')
    await nextEvent(client, 'resumed', 3000)
    await waitFor(() => got.length === 1, 2000, 'the queued push')
    assert.deepEqual(got, ['while you were away'])
    assert.ok(peer.rooms.has('news'))
    assert.equal(server.peers.get(client.sessionId!), peer)
  })
})

describe('takeover', () => {
  test('a resume that arrives while the old transport still looks alive takes the session over, and the old transport is told', async () => {
    const { server, port, url } = await startServer({ retention: 5000 })
    const client = await MessageClient.connect(url, { reconnect: { initialDelay: 300, jitter: 0 } })
    const got: number[] = []
    client.on('n', (i: number) => got.push(i))
    const peer = server.peers.get(client.sessionId!)!
    await peer.emit('n', 1)
    // Someone presents the session and its token (as a client whose old link is blackholed would)
    // while it is connected.
    const codec = lengthField({ lengthFieldLength: 4 })
    const raw = net.connect({ host: '127.0.0.1', port })
    raw.on('error', () => {})
    const frames: Buffer[] = []
    const decoder = codec.decoder()
    raw.on('data', (chunk) => decoder.push(chunk, (f) => frames.push(Buffer.from(f))))
    const closed = nextEvent<Error | undefined>(client, 'close', 3000)
    raw.write(
      encodeFrame(codec, Kind.HELLO, Format.JSON, {
        body: JSON.stringify({ v: 1, session: client.sessionId, token: peer.resumeToken, lastReceived: 1 }),
      }),
    )
    // The old transport was live after all: it hears why it ends instead of losing messages silently.
    const reason = await closed
    assert.equal((reason as { code?: string } | undefined)?.code, ErrorCodes.SESSION_TAKEN_OVER)
    await waitFor(() => frames.length > 0, 2000, 'the WELCOME')
    const env = decodeEnvelope(frames[0]!, newEnvelope())
    assert.equal(env.kind, Kind.WELCOME)
    assert.equal(JSON.parse(frames[0]!.toString('utf8', env.payloadStart)).resumed, true)
    assert.equal(server.peers.get(client.sessionId!), peer, 'same session object')
    // A push now goes to the transport holding the session.
    void peer.emit('n', 2).catch(() => {})
    await waitFor(() => frames.length > 1, 2000, 'the push on the new transport')
    assert.deepEqual(got, [1])
    raw.destroy()
    await server.close()
  })
})
