import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { after, describe, test } from 'node:test'
import type { ChatLine, ChatNotice } from '../../src/cli/serve.ts'
import { MessageClient, MessageServer, type Peer } from '../../src/messaging/index.ts'
import { FaultProxy } from '../../src/proxy/index.ts'
import { type CliProcess, chatServerFor, wirekit } from './chat-process.ts'

const cleanup: (() => unknown)[] = []
after(async () => {
  for (const fn of cleanup.reverse()) await fn()
})

function spawnChat(url: string, name: string, ...more: string[]): CliProcess {
  const p = wirekit(['chat', url, '--name', name, ...more])
  cleanup.push(async () => {
    if (p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill('SIGKILL')
      await p.exited
    }
  })
  return p
}

async function observer(url: string, name: string, room = 'lobby') {
  const client = await MessageClient.connect(url, { credentials: { name } })
  cleanup.push(() => client.close())
  const heard: string[] = []
  client.on('message', (m: ChatLine) => heard.push(`<${m.from}> ${m.text}`))
  client.on('system', (m: ChatNotice) => heard.push(`* ${m.text}`))
  await client.request('join', room)
  const until = async (want: string, ms = 15_000) => {
    const deadline = Date.now() + ms
    while (!heard.includes(want)) {
      if (Date.now() > deadline)
        throw new Error(`${name} never heard ${JSON.stringify(want)}; heard ${JSON.stringify(heard)}`)
      await new Promise((r) => setTimeout(r, 20))
    }
  }
  return { client, heard, until }
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await new Promise((r) => server.once('listening', r))
  const { port } = server.address() as { port: number }
  await new Promise((r) => server.close(r))
  return port
}

describe('wirekit chat (spawned, over pipes)', () => {
  test('escape sequences, control characters and embedded newlines from others are printed inert', async () => {
    // A hostile server (or a client of an older one) sends what the real server refuses.
    const hostile = new MessageServer({ authenticate: () => ({ name: 'x' }) })
    cleanup.push(() => hostile.close())
    hostile.handle('join', (room: string) => ({ room, members: ['\x1b[2Jmallory'] }))
    hostile.on('connection', (peer: Peer) => {
      setTimeout(() => {
        void peer.emit('message', {
          room: 'lobby',
          from: 'mal\x1b]0;pwned\x07lory',
          text: 'hi\x1b[2J\x1b[H\r\n* server: bob was kicked\u202e\x9b31m',
          at: Date.now(),
        })
        void peer.emit('system', { room: 'lobby', text: 'ok\n* server: alice was banned', at: Date.now() })
      }, 100)
    })
    const address = await hostile.listen({ host: '127.0.0.1', port: 0 })
    const chat = spawnChat(`tcp://127.0.0.1:${'port' in address ? address.port : 0}`, 'alice')
    await chat.until(/alice was banned/)
    assert.doesNotMatch(
      chat.out.replaceAll('\n', ''),
      /[\p{Cc}\u202e]/u,
      'no raw control character reaches the terminal',
    )
    const lines = chat.out.split('\n')
    assert.ok(!lines.some((l) => l.startsWith('* server')), `a line was forged: ${JSON.stringify(lines)}`)
    assert.match(chat.out, /<mal␛\]0;pwned␇lory> hi␛\[2J␛\[H␍␊\* server: bob was kicked<U\+202E><U\+009B>31m/)
    assert.match(chat.out, /\* ok␊\* server: alice was banned/)
  })

  test('the server refuses a line with control characters and tells only the sender', async () => {
    const { server, url } = await chatServerFor()
    cleanup.push(() => server.close())
    const alice = await observer(url, 'alice')
    const bob = await observer(url, 'bob')
    await alice.client.emit('say', { room: 'lobby', text: 'clear\x1b[2J' })
    await alice.until('* line refused: a line is at most 2000 characters, with no control characters')
    await alice.client.emit('say', { room: 'lobby', text: 'plain' })
    await bob.until('<alice> plain')
    assert.ok(!bob.heard.some((l) => l.includes('clear')))
  })

  test('commands: /help, /who, /rooms, /me, /nick, /join, /leave, and an unknown command is answered, not sent', async () => {
    const { server, url } = await chatServerFor()
    cleanup.push(() => server.close())
    const bob = await observer(url, 'bob')
    const chat = spawnChat(url, 'José María')
    await chat.until(/connected to .* as José María; in #lobby: José María, bob/)
    chat.line('/help')
    await chat.until(/\/join room +join a room/)
    chat.line('/who')
    await chat.until(/\* in #lobby: José María, bob/)
    chat.line('/frobnicate now')
    await chat.until(/unknown command \/frobnicate; \/help lists the commands/)
    chat.line('/me waves')
    await bob.until('<José María> waves')
    chat.line('//slash is text')
    await bob.until('<José María> /slash is text')
    assert.ok(!bob.heard.some((l) => l.includes('frobnicate')))
    chat.line('/nick BOB')
    await chat.until(
      /\n\* the nickname "BOB" is taken \(or looks the same as one in use\); names are unique ignoring case/,
    )
    chat.line('/nick Zoë')
    await chat.until(/you are now Zoë/)
    await bob.until('* José María is now known as Zoë')
    chat.line('/join Dev-Talk')
    await chat.until(/now talking in #dev-talk; here: Zoë/)
    chat.line('/rooms')
    await chat.until(/rooms: #dev-talk \(1\), #lobby \(2\)/)
    chat.line('/join not allowed!')
    await chat.until(/cannot join "not allowed!": a room name is 1-32 letters/)
    chat.line('in dev')
    await chat.until(/\[#dev-talk\] <Zoë> in dev/)
    chat.line('/leave')
    await chat.until(/left #dev-talk; now talking in #lobby/)
    chat.line('/quit')
    assert.equal(await chat.exited, 0)
    await bob.until('* Zoë quit')
  })

  test('a line over the limit is refused whole with the rule, and nothing is sent', async () => {
    const { server, url } = await chatServerFor()
    cleanup.push(() => server.close())
    const bob = await observer(url, 'bob')
    const chat = spawnChat(url, 'alice')
    await chat.until(/connected to/)
    chat.line('x'.repeat(2001))
    await chat.until(/not sent: the line has 2001 characters; a line is at most 2000 characters/)
    chat.line('short one')
    await bob.until('<alice> short one')
    assert.ok(!bob.heard.some((l) => l.includes('xxxx')))
  })

  test('nicknames are unique ignoring case and look-alike letters; a refusal states the rule', async () => {
    const { server, url } = await chatServerFor()
    cleanup.push(() => server.close())
    await observer(url, 'alice')
    for (const name of ['ALICE', 'Аlice' /* Cyrillic А */, 'a1ice']) {
      const chat = spawnChat(url, name)
      assert.equal(await chat.exited, 1, name)
      assert.match(chat.err, /the nickname ".*" is taken .*names are unique ignoring case/, name)
    }
    // A client without a token (a plain MessageClient) cannot take a connected name either.
    await assert.rejects(
      MessageClient.connect(url, { credentials: { name: 'Alice' }, reconnect: false }),
      /the nickname "Alice" is taken/,
    )
    const bad = spawnChat(url, 'bad\x1bname')
    assert.equal(await bad.exited, 2)
    assert.match(bad.err, /a nickname is 1-24 letters/)
  })

  test('lines piped before the server is up are queued, then delivered in order', async () => {
    const port = await freePort()
    const chat = spawnChat(`tcp://127.0.0.1:${port}`, 'early')
    for (const n of [1, 2, 3]) chat.line(`line ${n}`)
    chat.child.stdin.end()
    await chat.until(/connecting to/)
    await new Promise((r) => setTimeout(r, 500))
    const { server } = await chatServerFor({ port })
    cleanup.push(() => server.close())
    assert.equal(await chat.exited, 0)
    const stored = await server.history('chat:lobby')
    assert.deepEqual(
      stored.map((e) => (e.data as { text: string }).text),
      ['line 1', 'line 2', 'line 3'],
    )
  })

  test('a line typed while the server is away is marked pending, then delivered after it is back', async () => {
    const first = await chatServerFor()
    const chat = spawnChat(first.url, 'alice')
    await chat.until(/connected to/)
    await first.server.close()
    await chat.until(/connection lost; reconnecting/)
    chat.line('while away')
    await chat.until(/\* pending: \[#lobby\] while away \(not yet stored by the server/)
    const second = await chatServerFor({ port: first.port })
    cleanup.push(() => second.server.close())
    await chat.until(/\* delivered: \[#lobby\] while away/)
    await chat.until(/\[#lobby\] <alice> while away/)
  })

  test('a client killed with SIGKILL is announced as gone and leaves /who at once', async () => {
    const { server, url } = await chatServerFor()
    cleanup.push(() => server.close())
    const alice = await observer(url, 'alice')
    const chat = spawnChat(url, 'bob')
    await chat.until(/connected to/)
    assert.deepEqual(await alice.client.request('who', 'lobby'), ['alice', 'bob'])
    const killed = Date.now()
    chat.child.kill('SIGKILL')
    await alice.until('* bob left (connection lost)')
    assert.deepEqual(await alice.client.request('who', 'lobby'), ['alice'])
    // The server heartbeat is 1 s + 1 s here; a killed process's socket closes at once anyway.
    assert.ok(Date.now() - killed < 2000 + 3000, `took ${Date.now() - killed} ms`)
  })

  test('a client whose link goes silent (blackhole) leaves /who within the heartbeat deadline, not the retention', async () => {
    const { server, url, port } = await chatServerFor({ heartbeatInterval: 500, heartbeatTimeout: 500 })
    cleanup.push(() => server.close())
    const proxy = await FaultProxy.start({ target: { host: '127.0.0.1', port } })
    cleanup.push(() => proxy.close())
    const alice = await observer(url, 'alice')
    const chat = spawnChat(`tcp://127.0.0.1:${proxy.port}`, 'bob')
    await chat.until(/connected to/)
    const started = Date.now()
    proxy.set({ blackhole: true })
    await alice.until('* bob left (connection lost)')
    const took = Date.now() - started
    assert.deepEqual(await alice.client.request('who', 'lobby'), ['alice'])
    // Deadline 0.5 s + 0.5 s; retention is 60 s. The margin is for a loaded 2-core machine.
    assert.ok(took < 1000 + 2500, `bob left /who after ${took} ms`)
  })

  test('a dead link (blackhole) is shown within the heartbeat deadline', async () => {
    const { server, port } = await chatServerFor({ heartbeatInterval: 500, heartbeatTimeout: 500 })
    cleanup.push(() => server.close())
    const proxy = await FaultProxy.start({ target: { host: '127.0.0.1', port } })
    cleanup.push(() => proxy.close())
    const chat = spawnChat(`tcp://127.0.0.1:${proxy.port}`, 'alice')
    await chat.until(/connected to/)
    const started = Date.now()
    proxy.set({ blackhole: true })
    await chat.until(/connection lost; reconnecting/, 10_000)
    const took = Date.now() - started
    // Deadline interval + timeout = 1 s; the margin is for a loaded 2-core machine.
    assert.ok(took < 1000 + 2500, `the dead link showed after ${took} ms`)
  })
})
