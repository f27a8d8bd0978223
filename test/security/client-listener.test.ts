// The client side of the crash rules (issue 10): a throwing MessageClient listener goes to the client's
// 'error' event (or debuglog), and a client that does not accept MessagePack refuses it from a server.
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { ErrorCodes, isWirekitError } from '../../src/errors.ts'
import { MessageClient } from '../../src/messaging/index.ts'
import { nextEvent, startServer, waitFor } from '../messaging/helpers.ts'

const cleanup: (() => unknown)[] = []
after(async () => {
  for (const fn of cleanup.reverse()) await fn()
})

describe('MessageClient and hostile or buggy input', () => {
  test('a throwing client listener reaches the client’s error event and the client keeps working', async () => {
    const { server, url } = await startServer()
    cleanup.push(() => server.close())
    const client = await MessageClient.connect(url)
    cleanup.push(() => client.close())
    const errors: unknown[] = []
    client.on('error', (e: unknown) => errors.push(e))
    const got: number[] = []
    client.on('n', (n: number) => {
      if (n === 1) throw new Error('listener bug')
      got.push(n)
    })
    const peer = server.peers.get(client.sessionId!)!
    await peer.emit('n', 1)
    await peer.emit('n', 2)
    assert.deepEqual(got, [2])
    assert.equal((errors[0] as Error).message, 'listener bug')
  })

  test('a throwing client listener without an error listener does not crash the process', async () => {
    const { server, url } = await startServer()
    cleanup.push(() => server.close())
    const client = await MessageClient.connect(url)
    cleanup.push(() => client.close())
    client.on('n', () => {
      throw new Error('listener bug, nobody listening')
    })
    const peer = server.peers.get(client.sessionId!)!
    await peer.emit('n', 1)
    // A rethrow would come on the next tick: give it a few.
    await new Promise((r) => setTimeout(r, 50))
    await peer.emit('n', 2)
    assert.equal(client.state, 'connected')
  })

  test('a client that accepts only JSON closes on a MessagePack push with WK_PROTOCOL', async () => {
    const { server, url } = await startServer({ codec: 'msgpack' })
    cleanup.push(() => server.close())
    const client = await MessageClient.connect(url, { accept: ['json'], reconnect: false })
    cleanup.push(() => client.close())
    const closed = nextEvent<Error>(client, 'close')
    void server.peers
      .get(client.sessionId!)!
      .emit('n', { a: 1 })
      .catch(() => {})
    const reason = await closed
    assert.ok(isWirekitError(reason, ErrorCodes.PROTOCOL), String(reason))
    await waitFor(() => client.state === 'closed', 1000, 'closed')
  })
})
