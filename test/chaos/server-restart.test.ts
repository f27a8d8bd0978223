// Kill -9 the server process mid-stream and start a new one on the same port. With the memory adapter
// the session cannot be resumed: the client must hear `sessionLost` naming every message the dead server
// may have seen without acknowledging it. Nothing vanishes silently, nothing is delivered twice.
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { ErrorCodes, isWirekitError } from '../../src/errors.ts'
import { MessageClient, type UnacknowledgedMessage } from '../../src/messaging/index.ts'
import { type ChildServer, startChildServer } from './child-server.ts'
import { LONG, messageCount, waitFor } from './stream-harness.ts'

const N = messageCount(10_000, 100_000)
const WINDOW = 500

async function logged(path: string): Promise<number[]> {
  const text = await readFile(path, 'utf8').catch(() => '')
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map(Number)
}

function strictlyIncreasing(values: readonly number[]): boolean {
  for (let i = 1; i < values.length; i++) if (values[i]! <= values[i - 1]!) return false
  return true
}

describe('server process killed and restarted mid-stream (memory adapter)', () => {
  let dir: string
  const servers: ChildServer[] = []
  const clients: MessageClient[] = []

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wirekit-chaos-restart-'))
  })

  after(async () => {
    for (const client of clients) await client.close()
    for (const server of servers) await server.kill()
    await rm(dir, { recursive: true, force: true })
  })

  test('every message sent is either acknowledged and delivered once, or reported in sessionLost', {
    timeout: LONG ? 600_000 : 60_000,
  }, async () => {
    const logs = [join(dir, 'first.log'), join(dir, 'second.log')]
    const first = await startChildServer({ log: logs[0] })
    servers.push(first)
    const client = await MessageClient.connect(`tcp://127.0.0.1:${first.port}`, {
      reconnect: { initialDelay: 20, maxDelay: 200 },
      outbox: { maxMessages: 100_000 },
    })
    clients.push(client)
    const pushes: number[] = []
    client.on('s', (i: number) => pushes.push(i))
    const reports: Array<{ lost: UnacknowledgedMessage[]; code: string }> = []
    client.on('sessionLost', (lost: UnacknowledgedMessage[], error: { code: string }) => {
      reports.push({ lost, code: error.code })
    })

    const acked = new Set<number>()
    const rejected = new Map<number, string>()
    let killed = false
    const killAt = Math.floor(N * (0.3 + Math.random() * 0.3))
    const restart = (async () => {
      try {
        await waitFor(() => acked.size >= killAt, 60_000, `${killAt} acknowledgements`)
      } catch (error) {
        const lines = (await logged(logs[0]!)).length
        throw new Error(
          `${(error as Error).message}: client ${client.state}, acknowledged ${acked.size}, server logged ${lines}; ` +
            `server output: ${first.output() || '(none)'}`,
        )
      }
      await first.kill()
      killed = true
      const second = await startChildServer({ port: first.port, log: logs[1] })
      servers.push(second)
    })()

    const sending = (async () => {
      const inFlight: Promise<void>[] = []
      for (let i = 0; i < N; i++) {
        inFlight.push(
          client.emit('c', i).then(
            () => void acked.add(i),
            (error) => void rejected.set(i, isWirekitError(error) ? error.code : String(error)),
          ),
        )
        if (inFlight.length >= WINDOW) await Promise.all(inFlight.splice(0, WINDOW / 2))
      }
      await Promise.all(inFlight)
    })()
    // A failed restart ends the test at once (with its diagnostics) instead of leaving the sender waiting.
    await Promise.all([sending, restart])
    assert.ok(killed)

    const delivered = [...(await logged(logs[0])), ...(await logged(logs[1]))]
    const lost = reports.flatMap((r) => r.lost.map((m) => m.data as number))
    console.log(
      `[chaos] server kill -9 + restart at ${killAt}/${N}: acknowledged ${acked.size}, reported lost ${lost.length}, ` +
        `rejected ${rejected.size}, delivered ${delivered.length} (first ${(await logged(logs[0])).length}), ` +
        `pushes received ${pushes.length}, sessionLost events ${reports.length}`,
    )

    // The client was told, once, with the session-lost code.
    assert.equal(reports.length, 1)
    assert.equal(reports[0]!.code, ErrorCodes.SESSION_LOST)
    assert.ok(reports[0]!.lost.every((m) => m.kind === 'event' && m.name === 'c'))
    // Each lost message's emit rejected with WK_SESSION_LOST; nothing else failed.
    assert.deepEqual(
      [...rejected.keys()].sort((a, b) => a - b),
      [...lost].sort((a, b) => a - b),
    )
    for (const code of rejected.values()) assert.equal(code, ErrorCodes.SESSION_LOST)
    // acknowledged ∪ reported lost = sent, and they do not overlap.
    for (const i of lost) assert.ok(!acked.has(i), `${i} both acknowledged and reported lost`)
    assert.equal(acked.size + lost.length, N)
    // Every acknowledged message was delivered (the log is written before the ack leaves), none twice.
    const seen = new Set(delivered)
    assert.equal(seen.size, delivered.length, 'a message was delivered twice')
    for (const i of acked) assert.ok(seen.has(i), `${i} acknowledged but never delivered`)
    // Each server saw its part of the stream in order; pushes reached the client in order, once.
    assert.ok(strictlyIncreasing(await logged(logs[0])), 'first server: out of order')
    assert.ok(strictlyIncreasing(await logged(logs[1])), 'second server: out of order')
    assert.ok(strictlyIncreasing(pushes), 'pushes out of order or duplicated')
  })
})
