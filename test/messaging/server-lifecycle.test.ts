import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { ErrorCodes, isWirekitError } from '../../src/errors.ts'
import { MessageClient, MessageServer, type Peer } from '../../src/messaging/index.ts'
import { makeCerts } from '../helpers/certs.ts'
import { nextEvent, startServer, waitFor } from './helpers.ts'

describe('server listeners and lifecycle', () => {
  const cleanup: (() => unknown)[] = []
  after(async () => {
    for (const fn of cleanup.reverse()) await fn()
  })

  test('one server listens on TCP, TLS and a Unix path at once', async () => {
    const certs = makeCerts()
    const dir = mkdtempSync(join(tmpdir(), 'wirekit-msg-'))
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }))
    const server = new MessageServer()
    cleanup.push(() => server.close())
    server.handle('where', (_d, peer) => peer.id.length > 0)
    const tcp = (await server.listen({ port: 0 })) as { port: number }
    const secure = (await server.listen({
      port: 0,
      tls: { key: certs.server.key, cert: certs.server.cert },
    })) as {
      port: number
    }
    const path = join(dir, 'msg.sock')
    await server.listen({ path })
    const urls = [`tcp://127.0.0.1:${tcp.port}`, `tls://localhost:${secure.port}`, `unix:${path}`]
    for (const url of urls) {
      const client = await MessageClient.connect(url, { tls: { ca: certs.ca } })
      cleanup.push(() => client.close())
      assert.equal(await client.request('where'), true, url)
    }
    assert.equal(server.addresses.length, 3)
  })

  test('a TLS client that does not trust the server certificate cannot connect', async () => {
    const certs = makeCerts()
    const server = new MessageServer()
    cleanup.push(() => server.close())
    const { port } = (await server.listen({
      port: 0,
      tls: { key: certs.selfSigned.key, cert: certs.selfSigned.cert },
    })) as {
      port: number
    }
    await assert.rejects(MessageClient.connect(`tls://localhost:${port}`, { tls: { ca: certs.ca } }), (e) =>
      isWirekitError(e, ErrorCodes.TLS_UNTRUSTED),
    )
  })

  test('maxConnections refuses the next client with WK_MAX_CONNECTIONS', async () => {
    const { server, url } = await startServer({ maxConnections: 2 })
    cleanup.push(() => server.close())
    for (let i = 0; i < 2; i++) {
      const client = await MessageClient.connect(url)
      cleanup.push(() => client.close())
    }
    await assert.rejects(MessageClient.connect(url, { reconnect: false }), (e) =>
      isWirekitError(e, ErrorCodes.MAX_CONNECTIONS),
    )
  })

  test('close({ drain }) finishes in-flight requests, then tells clients to reconnect', async () => {
    const { server, url } = await startServer()
    server.handle('slow', () => new Promise((r) => setTimeout(() => r('done'), 200)))
    const client = await MessageClient.connect(url, { reconnect: { initialDelay: 2000 } })
    cleanup.push(() => client.close())
    const reply = client.request('slow', null, { timeout: 5000 })
    await new Promise((r) => setTimeout(r, 30))
    const started = Date.now()
    const disconnected = nextEvent<Error>(client, 'disconnect', 5000)
    await server.close({ drain: 3000 })
    assert.equal(await reply, 'done')
    const reason = await disconnected
    assert.ok(isWirekitError(reason, ErrorCodes.SERVER_CLOSING), String(reason))
    assert.equal(client.state, 'reconnecting')
    const elapsed = Date.now() - started
    assert.ok(elapsed >= 150 && elapsed < 2500, `drained in ${elapsed} ms`)
  })

  test('close() without drain does not wait for handlers', async () => {
    const { server, url } = await startServer()
    server.handle('never', () => new Promise(() => {}))
    const client = await MessageClient.connect(url, { reconnect: false })
    cleanup.push(() => client.close())
    const reply = client.request('never', null, { timeout: 10_000 })
    reply.catch(() => {})
    await new Promise((r) => setTimeout(r, 20))
    const started = Date.now()
    await server.close()
    assert.ok(Date.now() - started < 1000)
    await waitFor(() => client.state === 'closed', 2000, 'the client to close')
    await assert.rejects(reply, (e) => isWirekitError(e, ErrorCodes.CLOSED))
  })

  test('a rate limit with action "throttle" pauses reading after a burst until the budget refills, losing nothing', async () => {
    const { server, url } = await startServer({ rateLimit: { messages: 20, interval: 100 } })
    cleanup.push(() => server.close())
    const seen: number[] = []
    server.on('connection', (peer) => peer.on('m', (i: number) => seen.push(i)))
    const client = await MessageClient.connect(url)
    cleanup.push(() => client.close())
    // A burst of 100 is 80 over budget: at 20 per 100 ms they take about 400 ms to be let through.
    const started = Date.now()
    await Promise.all(Array.from({ length: 100 }, (_, i) => client.emit('m', i)))
    await client.emit('m', 100)
    const waited = Date.now() - started
    assert.ok(waited >= 250, `101 messages at 20 per 100 ms were all delivered after ${waited} ms`)
    assert.deepEqual(
      seen,
      Array.from({ length: 101 }, (_, i) => i),
    )
  })

  test('a rate limit with action "throttle" holds back the messages of a burst read in one chunk', async () => {
    // 10 at once, then one every 20 ms.
    const { server, url } = await startServer({ rateLimit: { messages: 10, interval: 200 } })
    cleanup.push(() => server.close())
    const seen: { i: number; at: number }[] = []
    server.on('connection', (peer) => peer.on('m', (i: number) => seen.push({ i, at: Date.now() })))
    const client = await MessageClient.connect(url)
    cleanup.push(() => client.close())
    // 30 emits in one turn leave in one write: the server reads them in one chunk.
    const started = Date.now()
    await Promise.all(Array.from({ length: 30 }, (_, i) => client.emit('m', i)))
    assert.deepEqual(
      seen.map((s) => s.i),
      Array.from({ length: 30 }, (_, i) => i),
    )
    const early = seen.filter((s) => s.at - started < 100).length
    assert.ok(early <= 16, `${early} of 30 delivered in the first 100 ms (budget: 10 + 5)`)
    const spread = seen[29]!.at - seen[0]!.at
    assert.ok(spread >= 300, `the 20 over budget were spread over ${spread} ms (expected about 400)`)
  })

  test('messages held back by the rate limit when the connection drops arrive once after the resume', async () => {
    const { server, url } = await startServer({ rateLimit: { messages: 5, interval: 500 } })
    cleanup.push(() => server.close())
    const seen: number[] = []
    let peer: Peer | undefined
    server.on('connection', (p) => {
      peer = p
      p.on('m', (i: number) => seen.push(i))
    })
    const client = await MessageClient.connect(url, { reconnect: { initialDelay: 20, jitter: 0 } })
    cleanup.push(() => client.close())
    const sends = Array.from({ length: 20 }, (_, i) => client.emit('m', i))
    await waitFor(() => seen.length >= 5, 2000, 'the first five')
    // 15 are held (or not yet read) on the server: cut the transport under them.
    assert.ok(seen.length < 20)
    peer!.conn!.socket.destroy()
    const stuck = new Promise<never>((_, reject) => {
      setTimeout(
        () => reject(new Error(`held messages never delivered: saw ${seen.length} of 20`)),
        5000,
      ).unref()
    })
    await Promise.race([Promise.all(sends), stuck])
    assert.deepEqual(
      seen,
      Array.from({ length: 20 }, (_, i) => i),
    )
  })

  test('a rate limit with action "disconnect" cuts the connection with WK_RATE_LIMITED; the session resumes', async () => {
    const { server, url } = await startServer({
      rateLimit: { messages: 20, interval: 1000, action: 'disconnect' },
    })
    cleanup.push(() => server.close())
    const seen: number[] = []
    server.on('connection', (peer) => peer.on('m', (i: number) => seen.push(i)))
    const client = await MessageClient.connect(url, { reconnect: { initialDelay: 300, jitter: 0 } })
    cleanup.push(() => client.close())
    const disconnected = nextEvent<Error>(client, 'disconnect', 3000)
    const sends = Array.from({ length: 30 }, (_, i) => client.emit('m', i))
    assert.ok(isWirekitError(await disconnected, ErrorCodes.RATE_LIMITED))
    await Promise.all(sends)
    assert.deepEqual(
      seen,
      Array.from({ length: 30 }, (_, i) => i),
    )
  })
})
