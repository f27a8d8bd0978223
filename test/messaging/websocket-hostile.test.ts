import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import WebSocket from 'ws'
import { MessageClient, type MessageServer } from '../../src/messaging/index.ts'
import { decodeData, decodeEnvelope, encodeEnvelope, Kind } from '../../src/messaging/wire/envelope-bytes.ts'
import { startServer } from './helpers.ts'

/** Opens a plain `ws` client (a WebSocket implementation nobody here wrote) speaking raw envelopes. */
function open(
  url: string,
): Promise<{ ws: WebSocket; messages: Uint8Array[]; closed: Promise<[number, string]> }> {
  const ws = new WebSocket(url, 'wirekit.1')
  const messages: Uint8Array[] = []
  ws.on('message', (data: Buffer) => messages.push(new Uint8Array(data)))
  const closed = new Promise<[number, string]>((resolve) =>
    ws.on('close', (code, reason) => resolve([code, String(reason)])),
  )
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, messages, closed }))
    ws.once('error', reject)
  })
}

describe('WebSocket transport: hostile input and interop', () => {
  let server: MessageServer
  let url: string

  before(async () => {
    const started = await startServer({ maxFrameLength: 4096 }, 'ws')
    server = started.server
    url = started.url
    server.handle('echo', (data) => data)
  })

  after(async () => {
    await server.close()
  })

  test('a plain ws client speaking raw envelopes gets a WELCOME and an echo', async () => {
    const { ws, messages } = await open(url)
    ws.send(encodeEnvelope({ kind: Kind.HELLO, data: { v: 1, lastReceived: 0 } }))
    ws.send(encodeEnvelope({ kind: Kind.REQUEST, seq: 1, id: 7, name: 'echo', data: { hi: 1 } }))
    const deadline = Date.now() + 5000
    while (messages.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5))
    const decoded = messages.map((m) => decodeEnvelope(m))
    assert.equal(decoded[0]!.kind, Kind.WELCOME)
    const response = decoded.find((m) => m.kind === Kind.RESPONSE)!
    assert.equal(response.id, 7)
    assert.deepEqual(decodeData(response), { hi: 1 })
    ws.close()
  })

  test('a text frame closes with 1002 and a GOAWAY saying WK_PROTOCOL; the server keeps serving', async () => {
    const { ws, messages, closed } = await open(url)
    ws.send('{"hello":1}')
    const [code] = await closed
    assert.equal(code, 1002)
    const goaway = messages.map((m) => decodeEnvelope(m)).find((m) => m.kind === Kind.GOAWAY)!
    assert.equal((decodeData(goaway) as { code: string }).code, 'WK_PROTOCOL')
    const client = await MessageClient.connect(url)
    assert.equal(await client.request('echo', 1), 1)
    await client.close()
  })

  test('garbage bytes close with a protocol error', async () => {
    const { ws, closed } = await open(url)
    ws.send(new Uint8Array([0xff, 0xff, 1, 2, 3]))
    const [code, reason] = await closed
    assert.equal(code, 1002)
    assert.equal(reason, 'WK_PROTOCOL')
  })

  test('a message over maxFrameLength closes with 1009', async () => {
    const { ws, closed } = await open(url)
    ws.send(new Uint8Array(8192))
    const [code] = await closed
    assert.equal(code, 1009)
  })

  test("Node's platform WebSocket speaks raw envelopes too", async () => {
    const ws = new globalThis.WebSocket(url, 'wirekit.1')
    ws.binaryType = 'arraybuffer'
    const first = new Promise<ArrayBuffer>((resolve) => {
      ws.onmessage = (event) => resolve(event.data as ArrayBuffer)
    })
    await new Promise((resolve) => {
      ws.onopen = resolve
    })
    assert.equal(ws.protocol, 'wirekit.1')
    ws.send(encodeEnvelope({ kind: Kind.HELLO, data: { v: 1, lastReceived: 0 } }))
    const welcome = decodeEnvelope(new Uint8Array(await first))
    assert.equal(welcome.kind, Kind.WELCOME)
    assert.equal((decodeData(welcome) as { resumed: boolean }).resumed, false)
    ws.close()
  })
})
