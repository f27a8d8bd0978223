import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { MessageClient } from '../../src/messaging/index.ts'
import { startServer } from './helpers.ts'

describe('reconnect with backoff', () => {
  const clients: MessageClient[] = []
  after(async () => {
    for (const c of clients) await c.close()
  })

  test('attempts follow initialDelay × factor^n, then the client closes after maxAttempts', async () => {
    const { server, url } = await startServer()
    const client = await MessageClient.connect(url, {
      reconnect: { initialDelay: 40, factor: 2, jitter: 0, maxAttempts: 4 },
    })
    clients.push(client)
    const events: { state: string; at: number }[] = []
    client.on('state', (state: string) => events.push({ state, at: Date.now() }))
    const closed = new Promise((r) => client.once('close', r))
    await server.close()
    await closed
    const states = events.map((e) => e.state)
    assert.deepEqual(states, [
      'reconnecting',
      'connecting',
      'reconnecting',
      'connecting',
      'reconnecting',
      'connecting',
      'reconnecting',
      'connecting',
      'closed',
    ])
    // Gap before each connect attempt: 40, 80, 160, 320 ms (no jitter), with a generous upper margin.
    const gaps = [0, 2, 4, 6].map((i) => events[i + 1]!.at - events[i]!.at)
    const nominal = [40, 80, 160, 320]
    for (let i = 0; i < 4; i++) {
      assert.ok(gaps[i]! >= nominal[i]! - 2, `attempt ${i + 1} after ${gaps[i]} ms, expected ≥ ${nominal[i]}`)
      // Timers never fire early; a loaded machine can make them late, hence the generous upper margin.
      assert.ok(
        gaps[i]! < nominal[i]! + 400,
        `attempt ${i + 1} after ${gaps[i]} ms, expected ≈ ${nominal[i]}`,
      )
    }
  })

  test('jitter spreads each delay over [nominal × (1 − jitter), nominal]', async () => {
    const { server, url } = await startServer()
    const client = await MessageClient.connect(url, {
      reconnect: { initialDelay: 200, factor: 1, jitter: 0.5, maxAttempts: 3 },
    })
    clients.push(client)
    const at: number[] = []
    client.on(
      'state',
      (state: string) => (state === 'reconnecting' || state === 'connecting') && at.push(Date.now()),
    )
    const closed = new Promise((r) => client.once('close', r))
    await server.close()
    await closed
    for (let i = 0; i + 1 < at.length; i += 2) {
      const gap = at[i + 1]! - at[i]!
      assert.ok(gap >= 98 && gap < 600, `delay ${gap} ms outside [100, 200] (+ margin)`)
    }
  })

  test('no reconnect happens after close(), and sends then reject with WK_CLOSED', async () => {
    const { server, url } = await startServer()
    let connections = 0
    server.on('connection', () => connections++)
    const client = await MessageClient.connect(url, { reconnect: { initialDelay: 10 } })
    await client.close()
    await new Promise((r) => setTimeout(r, 150))
    assert.equal(client.state, 'closed')
    assert.equal(connections, 1)
    await assert.rejects(client.emit('x', 1), { code: 'WK_CLOSED' })
    await server.close()
  })

  test('reconnect: false closes the client when the connection is lost', async () => {
    const { server, url } = await startServer()
    const client = await MessageClient.connect(url, { reconnect: false })
    const closed = new Promise((r) => client.once('close', r))
    await server.close()
    await closed
    assert.equal(client.state, 'closed')
  })
})
