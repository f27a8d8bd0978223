// A connection storm against MessageServer: 5,000 connections (50k in the long run) opened and closed in
// batches, well-behaved and not. Afterwards nothing is left: no sockets, timers or listeners beyond the
// baseline, no connections or sessions on the server, every Peer and client garbage-collected, heap flat.
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { lengthField } from '../../src/framing/index.ts'
import { MessageClient, MessageServer, type Peer } from '../../src/messaging/index.ts'
import { Format, Kind } from '../../src/messaging/wire/envelope.ts'
import { encodeFrame } from '../../src/messaging/wire/frame-writer.ts'
import { activeResources, gc, grown, heapAfterGc, MiB } from './resources.ts'
import { LONG, waitFor } from './stream-harness.ts'

const TOTAL = LONG ? 50_000 : 5_000
const BATCH = 100
const RETENTION = 300
/** Heap allowed to remain after the storm and a full GC: far below what 5,000 leaked sessions would hold. */
const HEAP_BOUND = 4 * MiB

const codec = lengthField({ lengthFieldLength: 4 })
const hello = encodeFrame(codec, Kind.HELLO, Format.JSON, { body: JSON.stringify({ v: 1, lastReceived: 0 }) })

describe('connection storm', () => {
  let server: MessageServer
  let url: string
  let port: number
  let peersMade = 0
  let peersCollected = 0
  let clientsMade = 0
  let clientsCollected = 0
  const peerRegistry = new FinalizationRegistry(() => peersCollected++)
  const clientRegistry = new FinalizationRegistry(() => clientsCollected++)

  before(async () => {
    server = new MessageServer({ retention: RETENTION, authTimeout: 1000 })
    server.handle('echo', (data) => data)
    server.on('connection', (peer: Peer) => {
      peersMade++
      peerRegistry.register(peer, undefined)
    })
    port = ((await server.listen({ port: 0, host: '127.0.0.1' })) as { port: number }).port
    url = `tcp://127.0.0.1:${port}`
  })

  after(async () => {
    await server.close()
  })

  /** A client that connects, makes one request and closes its session. */
  async function polite(i: number): Promise<void> {
    const client = await MessageClient.connect(url, { reconnect: false })
    clientsMade++
    clientRegistry.register(client, undefined)
    assert.equal(await client.request('echo', i), i)
    await client.close()
  }

  /** A raw connection that says HELLO, waits for the WELCOME, then resets: the session is retained, then expires. */
  function vanishing(): Promise<void> {
    return new Promise((resolve) => {
      const socket = connect({ host: '127.0.0.1', port })
      socket.on('error', () => {})
      socket.once('connect', () => socket.write(hello))
      socket.once('data', () => socket.resetAndDestroy())
      socket.once('close', () => resolve())
    })
  }

  /** A raw connection closed before any HELLO, sometimes with half a frame sent. */
  function abrupt(i: number): Promise<void> {
    return new Promise((resolve) => {
      const socket = connect({ host: '127.0.0.1', port })
      socket.on('error', () => {})
      socket.once('connect', () => {
        if (i % 2 === 0) socket.write(hello.subarray(0, 3))
        socket.destroy()
      })
      socket.once('close', () => resolve())
    })
  }

  test(`${TOTAL} connections opened and closed leave no sockets, timers, sessions or heap behind`, {
    timeout: LONG ? 900_000 : 120_000,
  }, async () => {
    // Warm up once so lazily created shared things (sweepers, scratch buffers) exist in the baseline.
    await polite(-1)
    await vanishing()
    await waitFor(() => server.peers.size === 0, 5000, 'the warm-up session to expire')
    const resourcesBefore = activeResources()
    const heapBefore = await heapAfterGc()
    const started = Date.now()

    for (let done = 0; done < TOTAL; done += BATCH) {
      const batch: Promise<void>[] = []
      for (let i = done; i < done + BATCH; i++) {
        const kind = i % 5
        batch.push(kind < 3 ? polite(i) : kind === 3 ? vanishing() : abrupt(i))
      }
      await Promise.all(batch)
    }
    const stormMs = Date.now() - started

    await waitFor(() => server.connectionCount === 0, 10_000, 'every connection to close on the server')
    await waitFor(() => server.peers.size === 0, RETENTION + 10_000, 'retained sessions to expire')
    const deadline = Date.now() + 10_000
    while ((peersCollected < peersMade || clientsCollected < clientsMade) && Date.now() < deadline) {
      await gc()
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    const heapAfter = await heapAfterGc()
    const resourcesAfter = activeResources()
    const leaked = grown(resourcesBefore, resourcesAfter)
    console.log(
      `[chaos] connection storm: ${TOTAL} connections in batches of ${BATCH} in ${stormMs} ms; ` +
        `peers collected ${peersCollected}/${peersMade}, clients collected ${clientsCollected}/${clientsMade}, ` +
        `heap ${((heapAfter - heapBefore) / MiB).toFixed(2)} MiB, resources grown ${JSON.stringify(leaked)}`,
    )
    assert.equal(server.connectionCount, 0)
    assert.equal(server.peers.size, 0)
    assert.equal(peersMade, (TOTAL / 5) * 4 + 2, 'every polite and vanishing client got a session') // + the warm-up pair
    assert.equal(peersCollected, peersMade, 'Peers still referenced after their sessions ended')
    assert.equal(clientsCollected, clientsMade, 'MessageClients still referenced after close()')
    assert.deepEqual(leaked, {}, 'handles or timers left behind')
    assert.ok(
      heapAfter - heapBefore < HEAP_BOUND,
      `heap grew by ${((heapAfter - heapBefore) / MiB).toFixed(2)} MiB`,
    )
  })
})
