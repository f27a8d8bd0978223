// `wirekit serve` keeps every room's lines in a durable log: the `history` request (last 50 lines with
// offsets), --data DIR (SQLite, survives a restart), subscribers that read the log instead of events,
// and the rule that only the chat's own log rooms can be subscribed to.
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { type ChatLine, closeWeb, serve } from '../../src/cli/serve.ts'
import { ErrorCodes, isWirekitError } from '../../src/errors.ts'
import { MessageClient } from '../../src/messaging/index.ts'

const dir = mkdtempSync(join(tmpdir(), 'wirekit-serve-history-'))
const cleanup: (() => unknown)[] = []
after(async () => {
  for (const fn of cleanup.reverse()) await fn()
  rmSync(dir, { recursive: true, force: true })
})

async function start(options: { data?: string; port?: number } = {}) {
  const server = await serve({
    host: '127.0.0.1',
    port: options.port ?? 0,
    data: options.data,
    signal: new AbortController().signal,
    log: () => {},
  })
  let closed = false
  const close = async () => {
    if (closed) return
    closed = true
    await closeWeb(server)
    await server.close()
  }
  cleanup.push(close)
  const address = server.addresses[0]!
  const port = 'port' in address ? address.port : 0
  return { server, close, port, url: `tcp://127.0.0.1:${port}` }
}

async function client(url: string, name: string): Promise<MessageClient> {
  const c = await MessageClient.connect(url, { credentials: { name }, reconnect: false })
  cleanup.push(() => c.close())
  return c
}

async function say(c: MessageClient, room: string, texts: string[]): Promise<void> {
  for (const text of texts) await c.emit('say', { room, text })
}

async function eventually<T>(
  read: () => T | undefined | Promise<T | undefined>,
  what: string,
  ms = 10_000,
): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const value = await read()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe('wirekit serve: durable chat rooms', () => {
  test('history returns the last 50 lines of a room, oldest first, each with its offset, and refuses a bad room name', async () => {
    const { url } = await start()
    const alice = await client(url, 'alice')
    await alice.request('join', 'lobby')
    const texts = Array.from({ length: 60 }, (_, i) => `line ${i + 1}`)
    await say(alice, 'Lobby', texts)
    await say(alice, 'other', ['elsewhere'])
    const lines = await eventually(async () => {
      const got = await alice.request<ChatLine[]>('history', '#LOBBY')
      return got.length === 50 && got.at(-1)?.text === 'line 60' ? got : undefined
    }, '50 lines of history')
    const resolved = lines
    assert.deepEqual(
      resolved.map((l) => l.text),
      texts.slice(10),
    )
    assert.deepEqual(
      resolved.map((l) => l.offset),
      Array.from({ length: 50 }, (_, i) => i + 11),
    )
    assert.ok(resolved.every((l) => l.room === 'lobby' && l.from === 'alice' && typeof l.at === 'number'))
    await assert.rejects(
      alice.request('history', 'no spaces allowed'),
      (e: Error & { remoteMessage?: string }) => /room name/.test(String(e.remoteMessage)),
    )
    assert.deepEqual(await alice.request('history', 'empty-room'), [])
  })

  test('live lines carry the offset history gave them, so a page can join the two without a duplicate', async () => {
    const { url } = await start()
    const alice = await client(url, 'alice')
    const bob = await client(url, 'bob')
    await bob.request('join', 'lobby')
    const heard: ChatLine[] = []
    bob.on('message', (m: ChatLine) => heard.push(m))
    await say(alice, 'lobby', ['one', 'two', 'three'])
    await eventually(() => (heard.length === 3 ? true : undefined), 'three live lines')
    const history = await bob.request<ChatLine[]>('history', 'lobby')
    assert.deepEqual(
      heard.map((l) => [l.offset, l.text]),
      history.map((l) => [l.offset, l.text]),
    )
  })

  test('a client that joins as a subscriber gets each line once, from the log, not also as an event', async () => {
    const { url } = await start()
    const alice = await client(url, 'alice')
    const bob = await client(url, 'bob')
    const events: ChatLine[] = []
    bob.on('message', (m: ChatLine) => events.push(m))
    const sub = await bob.subscribe('chat:lobby', { recover: true })
    const logged: [number, string][] = []
    sub.on('message', (m, meta) => logged.push([meta.offset, (m as ChatLine).text]))
    const joined = await bob.request<{ log: string }>('join', { room: 'lobby', subscribed: true })
    assert.equal(joined.log, 'chat:lobby')
    await say(alice, 'lobby', ['a', 'b'])
    await eventually(() => (logged.length === 2 ? true : undefined), 'two logged lines')
    await new Promise((r) => setTimeout(r, 200))
    assert.deepEqual(logged, [
      [1, 'a'],
      [2, 'b'],
    ])
    assert.deepEqual(events, [])
  })

  test("only the chat rooms' logs can be subscribed to, under their checked names", async () => {
    const { url } = await start()
    const mallory = await client(url, 'mallory')
    for (const room of ['room:lobby', 'live:lobby', 'chat:Lobby', 'chat:', 'chat:a b', 'secret']) {
      await assert.rejects(
        mallory.subscribe(room, { recover: true }),
        (e) => isWirekitError(e, ErrorCodes.SUBSCRIBE_DENIED),
        room,
      )
    }
  })

  test('serve --data DIR creates DIR, keeps the log in DIR/history.sqlite, and a restarted server still has it', async () => {
    const data = join(dir, 'new', 'data')
    const first = await start({ data })
    assert.ok(existsSync(join(data, 'history.sqlite')))
    const alice = await client(first.url, 'alice')
    await say(alice, 'lobby', ['before the restart'])
    await eventually(
      async () => ((await alice.request<ChatLine[]>('history', 'lobby')).length === 1 ? true : undefined),
      'the line logged',
    )
    await alice.close()
    await first.close()
    const second = await start({ data, port: first.port })
    const bob = await client(second.url, 'bob')
    const lines = await bob.request<ChatLine[]>('history', 'lobby')
    assert.deepEqual(
      lines.map((l) => [l.offset, l.from, l.text]),
      [[1, 'alice', 'before the restart']],
    )
    await say(bob, 'lobby', ['after'])
    const after = await eventually(async () => {
      const got = await bob.request<ChatLine[]>('history', 'lobby')
      return got.length === 2 ? got : undefined
    }, 'the second line')
    assert.equal(after[1]!.offset, 2)
  })
})
