import assert from 'node:assert/strict'
import diagnostics from 'node:diagnostics_channel'
import { after, before, describe, test } from 'node:test'
import { MessageClient, type MessageServer, type Peer } from '../../src/messaging/index.ts'
import { startServer, TRANSPORTS, waitFor } from './helpers.ts'

const N = 10_000
const CUTS = 20

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Destroys the transport under a session without telling either side's session logic. */
function cut(target: Peer | MessageClient): void {
  target.conn?.socket.destroy()
}

for (const transport of TRANSPORTS) {
  describe(`exactly once, in order, across forced disconnects (${transport}://)`, () => {
    let server: MessageServer
    let url: string
    const clients: MessageClient[] = []

    before(async () => {
      const started = await startServer({ retention: 30_000, peerBuffer: { maxMessages: 50_000 } }, transport)
      server = started.server
      url = started.url
    })

    after(async () => {
      for (const c of clients) await c.close()
      await server.close()
    })

    test('20 cuts during a 10k-message stream each way: zero lost, zero duplicated, order kept', async () => {
      const fromClient: number[] = []
      const fromServer: number[] = []
      const connected = new Promise<Peer>((resolve) => server.once('connection', resolve))
      const client = await MessageClient.connect(url, {
        reconnect: { initialDelay: 2, maxDelay: 20 },
        outbox: { maxMessages: 50_000 },
      })
      clients.push(client)
      const peer = await connected
      peer.on('c', (i: number) => fromClient.push(i))
      client.on('s', (i: number) => fromServer.push(i))
      let resumes = 0
      let lost = 0
      client.on('resumed', () => resumes++)
      client.on('sessionLost', () => lost++)
      let resent = 0
      const onResend = (message: unknown) => {
        resent += (message as { count: number }).count
      }
      diagnostics.subscribe('wirekit:messaging:resend', onResend)

      const produce = async (send: (i: number) => Promise<void>) => {
        let last: Promise<void> = Promise.resolve()
        for (let i = 0; i < N; i++) {
          last = send(i)
          if (i % 250 === 249) {
            await last
            await sleep(1)
          }
        }
        await last
      }
      const cutter = async () => {
        for (let k = 0; k < CUTS; k++) {
          await waitFor(() => peer.connected && client.connected, 5000, 'the session to reconnect')
          await sleep(8)
          const before = resumes
          cut(k % 2 === 0 ? peer : client)
          await waitFor(() => resumes > before, 5000, `resume after cut ${k + 1}`)
        }
      }
      try {
        await Promise.all([produce((i) => client.emit('c', i)), produce((i) => peer.emit('s', i)), cutter()])
        await waitFor(
          () => fromClient.length >= N && fromServer.length >= N,
          20_000,
          'both streams to complete',
        )
        await sleep(20)
      } finally {
        diagnostics.unsubscribe('wirekit:messaging:resend', onResend)
      }
      const expected = Array.from({ length: N }, (_, i) => i)
      assert.deepEqual(fromClient, expected, 'client → server stream')
      assert.deepEqual(fromServer, expected, 'server → client stream')
      assert.equal(lost, 0)
      assert.equal(resumes, CUTS)
      assert.ok(resent > 0, 'unacknowledged messages were resent after resumes')
    })

    test('a request in flight across a reconnect completes once and its handler runs once', async () => {
      let runs = 0
      server.handle('slowOnce', async (n: number) => {
        runs++
        await sleep(150)
        return n + 1
      })
      const client = await MessageClient.connect(url, { reconnect: { initialDelay: 5, maxDelay: 20 } })
      clients.push(client)
      const peer = server.peers.get(client.sessionId!)!
      const reply = client.request('slowOnce', 41, { timeout: 5000 })
      await waitFor(() => runs === 1, 2000, 'the handler to start')
      cut(peer)
      await sleep(30)
      cut(client)
      assert.equal(await reply, 42)
      await sleep(50)
      assert.equal(runs, 1)
    })

    test('a request whose transport is cut before the server acknowledged it still runs exactly once', async () => {
      let runs = 0
      server.handle('count', () => ++runs)
      const client = await MessageClient.connect(url, { reconnect: { initialDelay: 5, maxDelay: 20 } })
      clients.push(client)
      const replies = []
      for (let i = 0; i < 50; i++) {
        replies.push(client.request('count', null, { timeout: 5000 }))
        if (i % 10 === 5) cut(client)
        await sleep(2)
      }
      const values = (await Promise.all(replies)) as number[]
      assert.equal(runs, 50)
      assert.deepEqual(
        [...values].sort((a, b) => a - b),
        Array.from({ length: 50 }, (_, i) => i + 1),
      )
    })
  })
}
