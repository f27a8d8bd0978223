// A chat line is answered only once it is stored, and stored once however often it is sent: `wirekit
// serve --data DIR` spawned, SIGKILLed right after replies, restarted on the same port and directory.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import type { ChatLine } from '../../src/cli/serve.ts'
import type { MessageClient } from '../../src/messaging/index.ts'
import { freePort } from '../helpers/redis-server.ts'
import { type CliProcess, chatClient, killAll, wirekit } from './chat-process.ts'

const dir = mkdtempSync(join(tmpdir(), 'wirekit-say-stored-'))
const processes: CliProcess[] = []
const clients: MessageClient[] = []
after(async () => {
  for (const c of clients) await c.close().catch(() => {})
  await killAll(processes)
  rmSync(dir, { recursive: true, force: true })
})

/** `wirekit serve` on `port`, history under `data` (SQLite) or in memory without it. */
async function startServer(port: number, data?: string): Promise<CliProcess> {
  const history = data === undefined ? [] : ['--data', data]
  const server = wirekit(['serve', '--port', String(port), ...history, '--http', 'off'])
  processes.push(server)
  await server.until(/listening on tcp:/, 30_000)
  return server
}

async function connect(port: number, name: string): Promise<MessageClient> {
  const c = await chatClient(port, name)
  clients.push(c)
  return c
}

test('every line the server answered is in the history after a SIGKILL right after the answers and a restart', {
  timeout: 120_000,
}, async () => {
  const port = await freePort()
  const data = join(dir, 'answered')
  const server = await startServer(port, data)
  const alice = await connect(port, 'alice')
  const answered: string[] = []
  let killed = false
  // 40 lines in flight at once; the server is killed in the same turn as the 20th answer arrives.
  const sends = Array.from({ length: 40 }, (_, i) =>
    alice
      .request<{ offset: number }>('say', { room: 'lobby', text: `line ${i}`, ref: `r${i}` }, { timeout: 0 })
      .then(
        (reply) => {
          assert.equal(typeof reply.offset, 'number')
          if (killed) return
          answered.push(`line ${i}`)
          if (answered.length === 20) {
            killed = true
            server.child.kill('SIGKILL')
          }
        },
        () => {},
      ),
  )
  await server.exited
  await alice.close()
  await Promise.race([Promise.all(sends), new Promise((r) => setTimeout(r, 2000))])
  assert.equal(answered.length, 20)

  await startServer(port, data)
  const bob = await connect(port, 'bob')
  const history = await bob.request<ChatLine[]>('history', 'lobby')
  const texts = history.map((l) => l.text)
  for (const text of answered) assert.equal(texts.filter((t) => t === text).length, 1, `${text} stored once`)
})

test('a line sent again after a restart is stored once, even with more than 50 lines after it (the ref index is read from the log)', {
  timeout: 120_000,
}, async () => {
  const port = await freePort()
  const data = join(dir, 'again')
  const server = await startServer(port, data)
  const alice = await connect(port, 'alice')
  const bob = await connect(port, 'bob')
  const line = { room: 'lobby', text: 'sent before the crash', ref: 'alice-line-1' }
  const first = await alice.request<{ offset: number }>('say', line, { timeout: 0 })
  for (let i = 0; i < 60; i++)
    await bob.request('say', { room: 'lobby', text: `bob ${i}`, ref: `b${i}` }, { timeout: 0 })
  server.child.kill('SIGKILL')
  await server.exited
  await Promise.all([alice.close(), bob.close()])

  await startServer(port, data)
  // As a page does when the answer never reached it: the same line, the same ref, a new session.
  const again = await connect(port, 'alice')
  const second = await again.request<{ offset: number }>('say', line, { timeout: 0 })
  assert.equal(second.offset, first.offset, 'answered with the stored line’s place')
  // An older client's event takes the same path.
  await again.emit('say', line)
  const history = await again.request<ChatLine[]>('history', 'lobby')
  assert.equal(history.at(-1)?.offset, first.offset + 60, 'nothing appended after bob’s 60 lines')
  assert.equal(history.at(-1)?.text, 'bob 59')
})

test('without --data, a line stored, shown, then sent again after a server restart shows once in `wirekit chat`', {
  timeout: 120_000,
}, async () => {
  const port = await freePort()
  let server = await startServer(port)
  const bob = wirekit(['chat', `tcp://127.0.0.1:${port}`, '--name', 'bob'])
  processes.push(bob)
  await bob.until(/connected to/)
  const line = { room: 'lobby', text: 'stored, answer lost', ref: 'alice-ref-1' }
  const first = await connect(port, 'alice')
  await first.request('say', line, { timeout: 0 })
  await bob.until(/<alice> stored, answer lost/)
  server.child.kill('SIGKILL')
  await server.exited
  await first.close()
  server = await startServer(port)
  await bob.until(/session|reconnected/, 30_000)
  // Alice sends her unanswered line again; the new, empty log stores it anew.
  const again = await connect(port, 'alice')
  await again.request('say', line, { timeout: 0 })
  await again.request('say', { room: 'lobby', text: 'after the restart', ref: 'alice-ref-2' }, { timeout: 0 })
  await bob.until(/<alice> after the restart/, 30_000)
  assert.equal(bob.out.split('<alice> stored, answer lost').length - 1, 1, bob.out)
})
