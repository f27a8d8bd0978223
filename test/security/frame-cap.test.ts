// Before login a stranger cannot make the server hold big frames: frames over maxHandshakeFrameLength
// are refused as soon as their header is read, and a partial frame holds memory for the bytes that
// arrived, not for the length it announced.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { MessageServer } from '../../src/messaging/index.ts'
import { startServer } from '../messaging/helpers.ts'
import { header, RawPeer } from './raw-peer.ts'

describe('frame size before login', () => {
  let server: MessageServer
  let port: number
  const peers: RawPeer[] = []

  before(async () => {
    // A long auth timeout: only the frame cap can end these connections quickly.
    const started = await startServer({ authTimeout: 30_000 })
    server = started.server
    port = started.port
  })

  after(async () => {
    for (const peer of peers) peer.destroy()
    await server.close()
  })

  test('a header announcing 512 KiB before the WELCOME is refused at once with WK_FRAME_TOO_LARGE (default cap 64 KiB)', async () => {
    const peer = await RawPeer.connect(port)
    peers.push(peer)
    peer.write(header(512 * 1024))
    await peer.until(() => peer.closed, 5000, 'the server to close the connection')
    assert.equal(peer.goaway?.code, 'WK_FRAME_TOO_LARGE')
  })

  test('a frame of 60 KiB before the WELCOME is still accepted (a HELLO with big credentials)', async () => {
    const peer = await RawPeer.connect(port)
    peers.push(peer)
    peer.write(header(60 * 1024))
    peer.write(Buffer.alloc(1000))
    await new Promise((r) => setTimeout(r, 200))
    assert.equal(peer.closed, false)
  })

  test('after login, 100 headers announcing 1 MiB hold memory for the bytes received, not 100 MiB', async () => {
    const logged: RawPeer[] = []
    for (let i = 0; i < 100; i++) {
      const peer = await RawPeer.connect(port)
      peers.push(peer)
      await peer.login()
      logged.push(peer)
    }
    global.gc?.()
    const before = process.memoryUsage().arrayBuffers
    for (const peer of logged) peer.write(Buffer.concat([header((1 << 20) - 8), Buffer.from([3, 0])]))
    // Wait until the server has read them all: a last round trip on each would need a frame; a pause does.
    await new Promise((r) => setTimeout(r, 500))
    const grown = process.memoryUsage().arrayBuffers - before
    assert.ok(grown < 32 * 1024 * 1024, `100 partial frames hold ${grown} bytes`)
    for (const peer of logged) assert.equal(peer.closed, false)
  })
})
