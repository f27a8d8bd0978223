import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { ErrorCodes, isWirekitError } from '../../src/errors.ts'
import { MessageClient, type MessageServer, type Peer } from '../../src/messaging/index.ts'
import { nextEvent, Relay, startServer, waitFor } from './helpers.ts'

describe('heartbeat', () => {
  const cleanup: (() => Promise<void>)[] = []
  after(async () => {
    for (const fn of cleanup.reverse()) await fn()
  })

  async function setup(): Promise<{
    server: MessageServer
    relay: Relay
    client: MessageClient
    peer: Peer
  }> {
    const { server, port } = await startServer({
      heartbeat: { interval: 150, timeout: 150 },
      retention: 5000,
    })
    const relay = await Relay.start(port)
    const connected = nextEvent<Peer>(server, 'connection')
    const client = await MessageClient.connect(relay.url, { reconnect: { initialDelay: 5000 } })
    cleanup.push(
      () => server.close(),
      () => relay.close(),
      () => client.close(),
    )
    return { server, relay, client, peer: await connected }
  }

  test('a client declares a silent (blackholed) server dead after interval + timeout', async () => {
    const { relay, client } = await setup()
    const started = Date.now()
    // The server times the client out as well, at about the same moment: its close must not get through.
    relay.dropCloses = true
    relay.blackhole = true
    const error = await nextEvent<Error>(client, 'disconnect', 3000)
    const elapsed = Date.now() - started
    assert.ok(isWirekitError(error, ErrorCodes.HEARTBEAT_TIMEOUT), String(error))
    assert.ok(elapsed >= 250, `declared dead after ${elapsed} ms, not before interval + timeout`)
    assert.ok(elapsed < 2000, `declared dead after ${elapsed} ms`)
    assert.equal(client.state, 'reconnecting')
  })

  test('a server declares a silent client dead after interval + timeout', async () => {
    const { relay, peer } = await setup()
    const started = Date.now()
    relay.dropCloses = true
    relay.blackhole = true
    const error = await nextEvent<Error>(peer, 'detached', 3000)
    const elapsed = Date.now() - started
    assert.ok(isWirekitError(error, ErrorCodes.HEARTBEAT_TIMEOUT), String(error))
    assert.ok(elapsed >= 250 && elapsed < 2000, `declared dead after ${elapsed} ms`)
    assert.equal(peer.connected, false)
    assert.equal(peer.closed, false, 'the session is retained for a resume')
  })

  test('pings keep an idle connection alive on both sides', async () => {
    const { client, peer } = await setup()
    let drops = 0
    client.on('disconnect', () => drops++)
    peer.on('detached', () => drops++)
    await new Promise((r) => setTimeout(r, 1000))
    assert.equal(drops, 0)
    assert.equal(client.state, 'connected')
    assert.equal(peer.connected, true)
  })

  test('after a heartbeat death the client resumes once the link works again', async () => {
    const { server, port } = await startServer({ heartbeat: { interval: 100, timeout: 100 } })
    const relay = await Relay.start(port)
    const client = await MessageClient.connect(relay.url, { reconnect: { initialDelay: 50, jitter: 0 } })
    cleanup.push(
      () => server.close(),
      () => relay.close(),
      () => client.close(),
    )
    server.handle('ping', () => 'pong')
    relay.blackhole = true
    await nextEvent(client, 'disconnect', 3000)
    relay.blackhole = false
    await waitFor(() => client.state === 'connected', 3000, 'the client to resume')
    assert.equal(await client.request('ping'), 'pong')
  })
})
