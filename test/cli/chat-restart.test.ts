// The alice/bob scenario of issue 12, over the CLI: `wirekit serve --data DIR` and two `wirekit chat`
// processes on pipes. The server is killed with SIGKILL while alice types, then restarted on the same
// port and data directory, 10 times. Bob must see every line alice typed exactly once; alice must say how
// many lines she sent again; lines bob was away for are marked "(missed)". And a client joining a room
// is shown its last lines once, marked "(earlier)".
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { closeWeb } from '../../src/cli/serve.ts'
import { MessageClient } from '../../src/messaging/index.ts'
import { freePort } from '../helpers/redis-server.ts'
import { type CliProcess, chatServerFor, wirekit } from './chat-process.ts'

const RESTARTS = 10
const dir = mkdtempSync(join(tmpdir(), 'wirekit-chat-restart-'))
const processes: CliProcess[] = []
after(async () => {
  for (const p of processes) {
    if (p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill('SIGCONT')
      p.child.kill('SIGKILL')
      await p.exited
    }
  }
  rmSync(dir, { recursive: true, force: true })
})

function spawn(args: string[]): CliProcess {
  const p = wirekit(args)
  processes.push(p)
  return p
}

function count(text: string, needle: string): number {
  return text.split(needle).length - 1
}

/** Waits until `p`'s output has `needle` at least `times` times. */
async function seen(p: CliProcess, needle: string, times = 1, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms
  while (count(p.out, needle) < times) {
    if (Date.now() > deadline || p.child.exitCode !== null)
      throw new Error(
        `never saw ${JSON.stringify(needle)} x${times}; output: ${JSON.stringify(p.out.slice(-3000))}`,
      )
    await new Promise((r) => setTimeout(r, 20))
  }
}

test(`server killed (SIGKILL) and restarted ${RESTARTS} times while alice types: bob sees every line once, missed ones marked, and alice counts what she re-sent`, {
  // ~15 s on a quiet machine; 150 s was not enough at load average 25 (process starts take seconds).
  timeout: 400_000,
}, async () => {
  const port = await freePort()
  const data = join(dir, 'data')
  const startServer = async () => {
    const server = spawn(['serve', '--port', String(port), '--data', data, '--http', 'off'])
    await server.until(/listening on tcp:/, 20_000)
    return server
  }
  let server = await startServer()
  const url = `tcp://127.0.0.1:${port}`
  const alice = spawn(['chat', url, '--name', 'alice'])
  const bob = spawn(['chat', url, '--name', 'bob'])
  await alice.until(/connected to .* in #lobby/)
  await bob.until(/connected to .* in #lobby/)

  const typed: string[] = []
  for (let round = 1; round <= RESTARTS; round++) {
    const live = `live ${round}`
    typed.push(live)
    alice.line(live)
    await seen(bob, `<alice> ${live}`)
    // Even rounds: bob is frozen while the server restarts and alice's lines go in, so he was away for
    // them; odd rounds: both reconnect as fast as they can, in whatever order.
    const bobAway = round % 2 === 0
    if (bobAway) bob.child.kill('SIGSTOP')
    server.child.kill('SIGKILL')
    await server.exited
    const away = [`away ${round} a`, `away ${round} b`]
    typed.push(...away)
    for (const line of away) alice.line(line)
    await seen(alice, `* pending: [#lobby] ${away[1]}`)
    server = await startServer()
    await seen(alice, 'sending 2 unacknowledged line(s) again', round)
    await seen(alice, `* delivered: [#lobby] ${away[1]}`)
    if (bobAway) bob.child.kill('SIGCONT')
    for (const line of away) await seen(bob, `<alice> ${line}`)
    if (bobAway) for (const line of away) assert.match(bob.out, new RegExp(`\\(missed\\) <alice> ${line}\\n`))
  }
  // Lines published after the last restart still arrive once.
  alice.line('the end')
  typed.push('the end')
  await seen(bob, '<alice> the end')
  await new Promise((r) => setTimeout(r, 300))

  const heard = bob.out
    .split('\n')
    .map((l) => /<alice> (.*)$/.exec(l)?.[1])
    .filter((l) => l !== undefined)
  assert.deepEqual(heard, typed, 'bob saw every line alice typed, once each, in order')
  assert.equal(count(alice.out, 'unacknowledged line(s) again'), RESTARTS)
  assert.equal(count(alice.out, 'sending 2 unacknowledged line(s) again'), RESTARTS)
})

test("a client that joins is shown the room's last lines once, marked (earlier), then the live ones", async () => {
  const { server, url } = await chatServerFor()
  const alice = await MessageClient.connect(url, { credentials: { name: 'alice' }, reconnect: false })
  after(async () => {
    await alice.close()
    await closeWeb(server)
    await server.close()
  })
  for (const text of ['one', 'two', 'three']) await alice.emit('say', { room: 'lobby', text })
  const bob = spawn(['chat', url, '--name', 'bob', '--room', '#Lobby'])
  await seen(bob, '(earlier) <alice> three')
  alice.emit('say', { room: 'lobby', text: 'four' }).catch(() => {})
  await seen(bob, '<alice> four')
  await new Promise((r) => setTimeout(r, 300))
  const heard = bob.out.split('\n').filter((l) => l.includes('<alice>'))
  assert.deepEqual(
    heard.map((l) => l.replace(/^\S+ /, '')),
    [
      '[#lobby] (earlier) <alice> one',
      '[#lobby] (earlier) <alice> two',
      '[#lobby] (earlier) <alice> three',
      '[#lobby] <alice> four',
    ],
  )
})
