import assert from 'node:assert/strict'
import http from 'node:http'
import { after, describe, test } from 'node:test'
import { MessageClient, MessageServer } from '../../src/messaging/index.ts'
import { makeCerts } from '../helpers/certs.ts'
import { startServer } from './helpers.ts'

describe('MessageServer over WebSocket', () => {
  const cleanup: (() => unknown)[] = []

  after(async () => {
    for (const fn of cleanup.reverse()) await fn()
  })

  test('listen({ websocket, tls }) serves wss:// to a client trusting the CA', async () => {
    const certs = makeCerts()
    const server = new MessageServer()
    cleanup.push(() => server.close())
    server.handle('echo', (data) => data)
    const { port } = (await server.listen({
      port: 0,
      tls: { key: certs.server.key, cert: certs.server.cert },
      websocket: { path: '/ws' },
    })) as { port: number }
    const client = await MessageClient.connect(`wss://localhost:${port}/ws`, { tls: { ca: certs.ca } })
    cleanup.push(() => client.close())
    assert.equal(await client.request('echo', 'secure'), 'secure')
  })

  test('attach(httpServer) shares a server that keeps answering its own requests', async () => {
    const web = http.createServer((_req, res) => res.end('page'))
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve))
    cleanup.push(() => new Promise((resolve) => web.close(resolve)))
    const server = new MessageServer()
    cleanup.push(() => server.close())
    server.handle('echo', (data) => data)
    server.attach(web, { path: '/ws' })
    const { port } = web.address() as { port: number }
    const client = await MessageClient.connect(`ws://127.0.0.1:${port}/ws`)
    cleanup.push(() => client.close())
    assert.equal(await client.request('echo', 1), 1)
    const page = await fetch(`http://127.0.0.1:${port}/`)
    assert.equal(await page.text(), 'page')
  })

  test('a TCP client and a WebSocket client share a room', async () => {
    const server = new MessageServer()
    cleanup.push(() => server.close())
    server.on('connection', (peer) => peer.join('lobby'))
    const tcp = (await server.listen({ port: 0 })) as { port: number }
    const ws = (await server.listen({ port: 0, websocket: { path: '/ws' } })) as { port: number }
    const a = await MessageClient.connect(`tcp://127.0.0.1:${tcp.port}`)
    const b = await MessageClient.connect(`ws://127.0.0.1:${ws.port}/ws`)
    cleanup.push(
      () => a.close(),
      () => b.close(),
    )
    const got: string[] = []
    const both = new Promise<void>((resolve) => {
      const hit = (who: string) => (text: string) => {
        got.push(`${who}:${text}`)
        if (got.length === 2) resolve()
      }
      a.on('news', hit('tcp'))
      b.on('news', hit('ws'))
    })
    while (server.peers.size < 2) await new Promise((r) => setTimeout(r, 5))
    server.to('lobby').emit('news', 'hi')
    await both
    assert.deepEqual(got.sort(), ['tcp:hi', 'ws:hi'])
  })

  test('an upgrade of another path is refused: the socket never opens and no connection is admitted', async () => {
    const { server, port } = await startServer({}, 'ws')
    cleanup.push(() => server.close())
    const ws = new WebSocket(`ws://127.0.0.1:${port}/other`, 'wirekit.1')
    const closed = await new Promise<number>((resolve) => {
      ws.onclose = (event) => resolve(event.code)
    })
    assert.equal(closed, 1006)
    assert.equal(server.connectionCount, 0)
  })
})
