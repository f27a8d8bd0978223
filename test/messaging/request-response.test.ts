import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { ErrorCodes, isWirekitError } from '../../src/errors.ts'
import { MessageClient, type MessageServer } from '../../src/messaging/index.ts'
import { startServer } from './helpers.ts'

describe('request/response', () => {
  let server: MessageServer
  let client: MessageClient
  let msgpackClient: MessageClient

  before(async () => {
    // The MessagePack client needs a server that accepts MessagePack (JSON servers refuse it by default).
    const started = await startServer({ accept: ['json', 'msgpack'] })
    server = started.server
    server.handle('echo', async (data) => data)
    server.handle('sum', (data: number[]) => data.reduce((a, b) => a + b, 0))
    server.handle('fail', async () => {
      throw Object.assign(new Error('no such user'), { code: 'E_NO_USER' })
    })
    server.handle('slow', () => new Promise((r) => setTimeout(() => r('late'), 300)))
    server.handle('whoami', (_data, peer) => peer.id)
    server.handle('askBack', async (data, peer) => peer.request('double', data))
    client = await MessageClient.connect(started.url)
    msgpackClient = await MessageClient.connect(started.url, { codec: 'msgpack' })
  })

  after(async () => {
    await client.close()
    await msgpackClient.close()
    await server.close()
  })

  test('request resolves with the value the async handler returns', async () => {
    assert.deepEqual(await client.request('echo', { hi: 1, list: [1, 2] }), { hi: 1, list: [1, 2] })
  })

  test('a synchronous handler works too, and many requests in flight pair up by id', async () => {
    const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => client.request('sum', [i, i, 1])))
    assert.deepEqual(
      replies,
      Array.from({ length: 200 }, (_, i) => 2 * i + 1),
    )
  })

  test('a thrown handler error reaches the caller as WK_REMOTE_ERROR with the remote message and code', async () => {
    await assert.rejects(client.request('fail', {}), (error) => {
      assert.ok(isWirekitError(error, ErrorCodes.REMOTE_ERROR))
      assert.match(error.message, /no such user/)
      assert.equal((error as unknown as { remoteCode: string }).remoteCode, 'E_NO_USER')
      return true
    })
  })

  test('a request for an unknown method rejects with WK_NO_HANDLER', async () => {
    await assert.rejects(client.request('nope', 1), (error) => isWirekitError(error, ErrorCodes.NO_HANDLER))
  })

  test('a request rejects with WK_REQUEST_TIMEOUT after its timeout', async () => {
    const started = Date.now()
    await assert.rejects(client.request('slow', null, { timeout: 50 }), (error) =>
      isWirekitError(error, ErrorCodes.REQUEST_TIMEOUT),
    )
    assert.ok(Date.now() - started >= 45, 'not before its timeout')
    // The handler's late answer is dropped, and the session goes on.
    await new Promise((r) => setTimeout(r, 300))
    assert.deepEqual(await client.request('echo', 'after'), 'after')
  })

  test('aborting the signal rejects the request with WK_ABORTED', async () => {
    const controller = new AbortController()
    const pending = client.request('slow', null, { signal: controller.signal })
    controller.abort()
    await assert.rejects(pending, (error) => isWirekitError(error, ErrorCodes.ABORTED))
  })

  test('handlers receive the peer; the server can request the client too', async () => {
    assert.equal(await client.request('whoami'), client.sessionId)
    client.handle('double', (n: number) => n * 2)
    assert.equal(await client.request('askBack', 21), 42)
  })

  test('MessagePack and raw byte payloads round-trip', async () => {
    assert.deepEqual(await msgpackClient.request('echo', { a: [1, 'two', null] }), { a: [1, 'two', null] })
    const bytes = Buffer.from([0, 1, 2, 255])
    const back = await client.request<Buffer>('echo', bytes)
    assert.ok(Buffer.isBuffer(back))
    assert.deepEqual([...back], [0, 1, 2, 255])
  })

  test('emit resolves once the server has acknowledged the event', async () => {
    const seen: unknown[] = []
    const peer = server.peers.get(client.sessionId!)!
    peer.on('note', (data) => seen.push(data))
    await client.emit('note', { n: 1 })
    assert.deepEqual(seen, [{ n: 1 }])
  })

  test('misuse throws at once: reserved event names and oversize names', () => {
    assert.throws(
      () => client.emit('state', 1),
      (error) => isWirekitError(error, ErrorCodes.INVALID_ARGUMENT),
    )
    assert.throws(
      () => client.emit('x'.repeat(300), 1),
      (error) => isWirekitError(error, ErrorCodes.INVALID_ARGUMENT),
    )
  })
})
