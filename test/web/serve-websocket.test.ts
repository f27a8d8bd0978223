// `wirekit serve --http`: WebSocket clients join the same chat at /ws as TCP clients, and pages get the
// browser client at /wirekit-client.js.
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { closeWeb, serve } from '../../src/cli/serve.ts'
import { MessageClient } from '../../src/messaging/index.ts'

const cleanup: (() => unknown)[] = []
after(async () => {
  for (const fn of cleanup.reverse()) await fn()
})

type ChatLine = { room: string; from: string; text: string }

test('a WebSocket client at /ws and a TCP client share a room; /wirekit-client.js serves the bundle', async () => {
  const logs: string[] = []
  const server = await serve({
    host: '127.0.0.1',
    port: 0,
    http: '127.0.0.1:0',
    signal: AbortSignal.abort(),
    log: (l) => logs.push(l),
  })
  cleanup.push(async () => {
    await closeWeb(server)
    await server.close()
  })
  const ws = /wirekit websocket on (ws:\/\/[^/]+\/ws)/.exec(logs.join('\n'))![1]!
  const address = server.addresses[0]!
  const tcp = `tcp://127.0.0.1:${'port' in address ? address.port : 0}`

  const alice = await MessageClient.connect(tcp, { credentials: { name: 'alice' } })
  cleanup.push(() => alice.close())
  const bob = await MessageClient.connect(ws, { credentials: { name: 'bob' } })
  cleanup.push(() => bob.close())
  await alice.request('join', 'lobby')
  await bob.request('join', 'lobby')
  const heard = new Promise<ChatLine>((resolve) =>
    alice.on('message', (line: ChatLine) => {
      if (line.text === 'hello over a websocket') resolve(line)
    }),
  )
  await bob.emit('say', { room: 'lobby', text: 'hello over a websocket' })
  const line = await heard
  assert.equal(line.text, 'hello over a websocket')

  const res = await fetch(`${ws.replace('ws://', 'http://').replace(/\/ws$/, '')}/wirekit-client.js`)
  assert.equal(res.status, 200)
  assert.match(res.headers.get('content-type') ?? '', /javascript/)
  assert.match(await res.text(), /export\s*\{/)
})

test('the dashboard feed (/admin/ws): absent from the public listener without a token; with one, it needs it and pushes stats every second', async () => {
  const start = async (adminToken?: string) => {
    const logs: string[] = []
    const server = await serve({
      host: '127.0.0.1',
      port: 0,
      http: '127.0.0.1:0',
      adminToken,
      signal: AbortSignal.abort(),
      log: (l) => logs.push(l),
    })
    cleanup.push(async () => {
      await closeWeb(server)
      await server.close()
    })
    return /wirekit websocket on (ws:\/\/[^/]+)\/ws/.exec(logs.join('\n'))![1]!
  }
  const open = await start(undefined)
  await assert.rejects(MessageClient.connect(`${open}/admin/ws`, { reconnect: false }))
  const gated = await start('feed-token')
  await assert.rejects(
    MessageClient.connect(`${gated}/admin/ws`, { credentials: { token: 'wrong' }, reconnect: false }),
    /admin token is missing or wrong/,
  )
  const feed = await MessageClient.connect(`${gated}/admin/ws`, { credentials: { token: 'feed-token' } })
  cleanup.push(() => feed.close())
  const stats = await new Promise<{ connections: number; websockets: number }>((resolve) =>
    feed.once('stats', resolve),
  )
  // The feed's own connection is not one of the chat's.
  assert.equal(stats.connections, 0)
  assert.equal(stats.websockets, 0)
})
