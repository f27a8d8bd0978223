// A client cannot fire the application's lifecycle listeners by naming its events after them, nor
// have one request run twice by reusing its id while it is pending.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { MessageServer, Peer } from '../../src/messaging/index.ts'
import { Kind } from '../../src/messaging/wire/envelope.ts'
import { encodeFrame } from '../../src/messaging/wire/frame-writer.ts'
import { startServer } from '../messaging/helpers.ts'
import { codec, message, RawPeer } from './raw-peer.ts'

describe('frames a client may not send', () => {
  let server: MessageServer
  let port: number
  const fired: string[] = []
  let handled = 0
  let release!: () => void
  const gate = new Promise<void>((resolve) => {
    release = resolve
  })
  const peers: RawPeer[] = []

  before(async () => {
    const started = await startServer()
    server = started.server
    port = started.port
    server.on('connection', (peer: Peer) => {
      // Only what a client sent counts (its payload { x: 1 }): the session's own 'close' may fire too.
      for (const name of ['close', 'error', 'detached', 'resume']) {
        peer.on(name, (arg: unknown) => {
          if ((arg as { x?: number } | undefined)?.x === 1) fired.push(name)
        })
      }
    })
    server.handle('slow', async () => {
      handled++
      await gate
      return 'ok'
    })
  })

  after(async () => {
    release()
    for (const peer of peers) peer.destroy()
    await server.close()
  })

  for (const name of ['close', 'error', 'detached', 'resume']) {
    for (const volatile of [false, true]) {
      test(`a${volatile ? ' volatile' : 'n'} event named "${name}" is a protocol error and fires no listener`, async () => {
        fired.length = 0
        const peer = await RawPeer.connect(port)
        peers.push(peer)
        await peer.login()
        peer.write(
          volatile
            ? encodeFrame(codec, Kind.VOLATILE, 0, { name, body: '{"x":1}' })
            : message(Kind.EVENT, 1, name, { x: 1 }),
        )
        await peer.until(() => peer.closed, 5000, 'the server to close')
        assert.equal(peer.goaway?.code, 'WK_PROTOCOL')
        assert.deepEqual(fired, [])
      })
    }
  }

  test('a request id reused while the first request is still running is a protocol error; the handler ran once', async () => {
    const peer = await RawPeer.connect(port)
    peers.push(peer)
    await peer.login()
    handled = 0
    peer.write(
      Buffer.concat([message(Kind.REQUEST, 1, 'slow', null, 7), message(Kind.REQUEST, 2, 'slow', null, 7)]),
    )
    await peer.until(() => peer.closed, 5000, 'the server to close')
    assert.equal(peer.goaway?.code, 'WK_PROTOCOL')
    assert.equal(handled, 1)
  })
})
