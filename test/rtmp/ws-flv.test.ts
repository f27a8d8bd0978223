// WebSocket-FLV on the HTTP-FLV listener (flv.js's ws:// source), played by the `ws` client: the FLV
// header and tags arrive as binary frames, byte-exact; pings are answered; a close and the end of the
// stream end the session; a client frame that is too big or unmasked ends only that player.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import net from 'node:net'
import { after, test } from 'node:test'
import WebSocket from 'ws'
import { FlvReader, type FlvTag, RtmpClient, RtmpServer } from '../../src/rtmp/index.ts'
import { until } from '../interop/rtmp-tools.ts'
import { aacConfig, avcConfig, gops, hex, metadata } from './fixtures.ts'

const server = new RtmpServer()
after(() => server.close())
const ports = Promise.all([server.listen({ port: 0 }), server.listenHttpFlv({ port: 0 })])

async function publish(key: string) {
  const [rtmp] = await ports
  return RtmpClient.publish(`rtmp://127.0.0.1:${rtmp.port}/live/${key}`)
}

async function wsUrl(key: string): Promise<string> {
  const [, http] = await ports
  return `ws://127.0.0.1:${http.port}/live/${key}.flv`
}

/** Opens a WebSocket-FLV player that parses what it gets; `frames` counts binary messages. */
async function play(key: string) {
  const ws = new WebSocket(await wsUrl(key))
  const reader = new FlvReader()
  const state = { tags: [] as FlvTag[], frames: 0 }
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    assert.ok(isBinary)
    state.frames++
    state.tags.push(...reader.push(data))
  })
  await once(ws, 'open')
  return { ws, state }
}

test('a WebSocket-FLV player gets metadata, sequence headers, the GOP and live tags, one tag per binary frame', async () => {
  const publisher = await publish('ws')
  const first = gops(1, 4)
  const head = [metadata(), avcConfig(), aacConfig(), ...first]
  for (const tag of head) await publisher.writeTag(tag)
  const bytes = head.reduce((n, t) => n + t.data.length, 0)
  await until(
    () => server.stats().streams.find((s) => s.name === 'ws')?.bytesIn === bytes,
    5000,
    'the first GOP',
  )
  const { ws, state } = await play('ws')
  const live = gops(1, 4, 1000)
  for (const tag of live) await publisher.writeTag(tag)
  await until(() => state.tags.length === head.length + live.length, 5000, 'every tag')
  assert.deepEqual(hex(state.tags), hex([...head, ...live]))
  assert.equal(state.frames, 1 + head.length + live.length) // the FLV header, then a frame per tag
  assert.equal(server.sessions().find((s) => s.protocol === 'ws-flv')?.action, 'play')
  ws.close()
  await publisher.close()
})

test('a ping is answered with a pong carrying the same bytes; a close ends the session', async () => {
  const publisher = await publish('ping')
  await publisher.writeTag(avcConfig())
  const { ws } = await play('ping')
  ws.ping(Buffer.from('hello'))
  const [pong] = (await once(ws, 'pong')) as [Buffer]
  assert.equal(pong.toString(), 'hello')
  ws.close(1000)
  const [code] = (await once(ws, 'close')) as [number]
  assert.equal(code, 1000)
  await until(() => !server.sessions().some((s) => s.protocol === 'ws-flv'), 5000, 'the session to end')
  await publisher.close()
})

test('the end of the stream closes the WebSocket with 1000', async () => {
  const publisher = await publish('end')
  await publisher.writeTag(avcConfig())
  const { ws } = await play('end')
  const closed = once(ws, 'close')
  await publisher.close()
  const [code] = (await closed) as [number]
  assert.equal(code, 1000)
})

test('a client frame over 125 bytes ends that player with 1009; the stream and other players go on', async () => {
  const publisher = await publish('big')
  await publisher.writeTag(avcConfig())
  const { ws: calm, state } = await play('big')
  const { ws: loud } = await play('big')
  const closed = once(loud, 'close')
  loud.send(Buffer.alloc(1000))
  const [code] = (await closed) as [number]
  assert.equal(code, 1009)
  const more = gops(1, 2, 1000)
  for (const tag of more) await publisher.writeTag(tag)
  await until(() => state.tags.length === 1 + more.length, 5000, 'the calm player to go on')
  calm.close()
  await publisher.close()
})

test('an unmasked client frame ends that player (1002 close frame, then the connection)', async () => {
  const publisher = await publish('unmasked')
  await publisher.writeTag(avcConfig())
  const [, http] = await ports
  const socket = net.connect(http.port, '127.0.0.1')
  await once(socket, 'connect')
  socket.write(
    'GET /live/unmasked.flv HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  )
  const chunks: Buffer[] = []
  socket.on('data', (c: Buffer) => chunks.push(c))
  await until(() => Buffer.concat(chunks).includes('\r\n\r\n'), 5000, 'the 101')
  const head = Buffer.concat(chunks).toString('latin1')
  assert.match(head, /^HTTP\/1\.1 101 /)
  assert.match(head, /Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/) // RFC 6455's example
  socket.write(Buffer.from([0x89, 0x00])) // a ping without a mask
  await once(socket, 'close')
  const all = Buffer.concat(chunks)
  assert.ok(all.includes(Buffer.from([0x88, 0x02, 0x03, 0xea])), 'a close frame with 1002')
  await publisher.close()
})

test('a WebSocket-FLV request for a key nobody publishes gets 404', async () => {
  const ws = new WebSocket(await wsUrl('nobody'))
  ws.on('error', () => {}) // terminate() before the handshake completed
  const [, response] = (await once(ws, 'unexpected-response')) as [unknown, { statusCode: number }]
  assert.equal(response.statusCode, 404)
  ws.terminate()
})
