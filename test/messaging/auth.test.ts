import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { ErrorCodes, isWirekitError } from '../../src/errors.ts'
import { MessageClient, type MessageServer, type Peer } from '../../src/messaging/index.ts'
import { nextEvent, startServer } from './helpers.ts'

describe('authentication', () => {
  let server: MessageServer
  let url: string
  const clients: MessageClient[] = []

  before(async () => {
    const started = await startServer({
      authTimeout: 300,
      authenticate: async (credentials) => {
        const token = (credentials as { token?: string } | undefined)?.token
        if (token === 'hang') return new Promise(() => {})
        if (token === 'refuse') return false
        if (token !== 'secret') throw new Error('bad token')
        return { user: 'alice' }
      },
    })
    server = started.server
    url = started.url
  })

  after(async () => {
    for (const c of clients) await c.close()
    await server.close()
  })

  test('good credentials connect, and authenticate’s return value becomes peer.identity', async () => {
    const connected = nextEvent<Peer>(server, 'connection')
    const client = await MessageClient.connect(url, { credentials: { token: 'secret' } })
    clients.push(client)
    const peer = await connected
    assert.deepEqual(peer.identity, { user: 'alice' })
  })

  test('a throwing authenticate refuses the client with WK_AUTH_FAILED, without retries', async () => {
    let connections = 0
    server.on('connection', () => connections++)
    await assert.rejects(MessageClient.connect(url, { credentials: { token: 'nope' } }), (e) => {
      assert.ok(isWirekitError(e, ErrorCodes.AUTH_FAILED), String(e))
      assert.match((e as Error).message, /bad token/)
      return true
    })
    await assert.rejects(MessageClient.connect(url, { credentials: { token: 'refuse' } }), (e) =>
      isWirekitError(e, ErrorCodes.AUTH_FAILED),
    )
    await assert.rejects(MessageClient.connect(url), (e) => isWirekitError(e, ErrorCodes.AUTH_FAILED))
    assert.equal(connections, 0)
  })

  test('an authenticate that never answers is cut with WK_AUTH_TIMEOUT after authTimeout', async () => {
    const started = Date.now()
    await assert.rejects(MessageClient.connect(url, { credentials: { token: 'hang' } }), (e) =>
      isWirekitError(e, ErrorCodes.AUTH_TIMEOUT),
    )
    const elapsed = Date.now() - started
    assert.ok(elapsed >= 250 && elapsed < 3000, `refused after ${elapsed} ms`)
    assert.equal(server.connectionCount, clients.length)
  })
})
