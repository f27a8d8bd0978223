// Hostile peers against RtmpServer over real sockets: each broken stream ends its own session with a
// typed error (sessionError) and the server goes on serving others.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { ErrorCodes, type WirekitError } from '../../src/errors.ts'
import { clientAck, clientHello, encodeChunks, RtmpClient, RtmpServer } from '../../src/rtmp/index.ts'
import { AsyncSocket } from '../../src/socket/index.ts'
import { until } from '../interop/rtmp-tools.ts'

const server = new RtmpServer({ handshakeTimeout: 2000 })
let port = 0
const errors: WirekitError[] = []
before(async () => {
  port = (await server.listen({ port: 0 })).port
  server.on('sessionError', (e) => errors.push(e))
})
after(() => server.close())

/** Connects, handshakes, sends `bytes`, and resolves with the error the server reported once it closed us. */
async function send(bytes: Buffer, handshake = true): Promise<string> {
  const before = errors.length
  const socket = await AsyncSocket.connect({ host: '127.0.0.1', port })
  if (handshake) {
    await socket.write(clientHello())
    await socket.write(clientAck(await socket.read({ length: 3073 })))
  }
  await socket.write(bytes).catch(() => {})
  // The server closes the connection: reads end.
  await assert.rejects(async () => {
    for (;;) await socket.read({ timeout: 5000 })
  })
  socket.destroy()
  assert.equal(errors.length, before + 1)
  return errors.at(-1)!.code
}

test('Set Chunk Size 2^31 ends the session with WK_RTMP_CHUNK', async () => {
  assert.equal(
    await send(encodeChunks(1, 0, 0, Buffer.from('80000000', 'hex'), 2, 128)),
    ErrorCodes.RTMP_CHUNK,
  )
})

test('a message header announcing 16 MB ends the session with WK_RTMP_MESSAGE_TOO_LARGE', async () => {
  assert.equal(await send(Buffer.from('06000000ffffff0901000000', 'hex')), ErrorCodes.RTMP_MESSAGE_TOO_LARGE)
})

test('an unknown message type ends the session with WK_RTMP_CHUNK', async () => {
  assert.equal(await send(encodeChunks(0x77, 0, 0, Buffer.from('zz'), 3, 128)), ErrorCodes.RTMP_CHUNK)
})

test('a command that is not AMF0 ends the session with WK_RTMP_AMF', async () => {
  assert.equal(
    await send(encodeChunks(20, 0, 0, Buffer.from('0200ffab', 'hex'), 3, 128)),
    ErrorCodes.RTMP_AMF,
  )
})

test('an HTTP request on the RTMP port is WK_RTMP_HANDSHAKE', async () => {
  const get = Buffer.alloc(1537, 0x20)
  get.write('GET / HTTP/1.1\r\n')
  assert.equal(await send(get, false), ErrorCodes.RTMP_HANDSHAKE)
})

test('silence instead of a handshake times out', async () => {
  assert.equal(await send(Buffer.alloc(0), false), ErrorCodes.READ_TIMEOUT)
})

test('after all that the server still takes a publisher', async () => {
  const publisher = await RtmpClient.publish(`rtmp://127.0.0.1:${port}/live/after`)
  await publisher.close()
  await until(() => server.stats().streams.length === 0, 5000, 'the stream to go')
})
