import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { type AddressInfo, connect, createServer } from 'node:net'
import { after, describe, test } from 'node:test'
import { type ChatLine, serve } from '../../src/cli/serve.ts'
import { ErrorCodes, isWirekitError } from '../../src/errors.ts'
import { MessageClient, type MessageServer } from '../../src/messaging/index.ts'

const bin = new URL('../../bin/wirekit.js', import.meta.url).pathname

describe('wirekit serve (chat server)', () => {
  let server: MessageServer
  const clients: MessageClient[] = []
  after(async () => {
    for (const c of clients) await c.close()
    await server?.close()
  })

  test('relays a line to everyone in the room, answers who, and refuses a bad name', {
    timeout: 20_000,
  }, async () => {
    const logs: string[] = []
    server = await serve({
      host: '127.0.0.1',
      port: 0,
      signal: new AbortController().signal,
      log: (l) => logs.push(l),
    })
    const address = server.addresses[0]!
    const url = `tcp://127.0.0.1:${'port' in address ? address.port : 0}`
    const alice = await MessageClient.connect(url, { credentials: { name: 'alice' } })
    const bob = await MessageClient.connect(url, { credentials: { name: 'bob' } })
    clients.push(alice, bob)
    await alice.request('join', 'lobby')
    await bob.request('join', 'lobby')
    assert.deepEqual(await bob.request('who', 'lobby'), ['alice', 'bob'])
    const heard = new Promise<ChatLine>((resolve) => bob.on('message', resolve))
    await alice.emit('say', { room: 'lobby', text: 'hello bob' })
    const line = await heard
    assert.equal(line.from, 'alice')
    assert.equal(line.text, 'hello bob')
    assert.ok(logs.some((l) => l.startsWith('wirekit chat server listening on tcp://127.0.0.1:')))
    // A line said before (re)joining, as queued lines are after a server restart, joins and is delivered.
    const carol = await MessageClient.connect(url, { credentials: { name: 'carol' } })
    clients.push(carol)
    const heardCarol = new Promise<ChatLine>((resolve) =>
      bob.on('message', (m: ChatLine) => m.from === 'carol' && resolve(m)),
    )
    await carol.emit('say', { room: 'lobby', text: 'queued while the server was down' })
    assert.equal((await heardCarol).text, 'queued while the server was down')
    assert.deepEqual(await bob.request('who', 'lobby'), ['alice', 'bob', 'carol'])
    await assert.rejects(
      MessageClient.connect(url, { credentials: { name: 'no\nnewlines' }, reconnect: false }),
      (e) => isWirekitError(e, ErrorCodes.AUTH_FAILED),
    )
  })
})

describe('wirekit proxy', () => {
  test('forwards bytes to the target and takes fault commands on stdin', async () => {
    const echo = createServer((s) => s.on('error', () => {}).pipe(s)).listen(0, '127.0.0.1')
    await once(echo, 'listening')
    const target = (echo.address() as AddressInfo).port
    const child = spawn(process.execPath, [
      bin,
      'proxy',
      '--listen',
      '127.0.0.1:0',
      '--target',
      `127.0.0.1:${target}`,
      '--split',
      '1',
    ])
    try {
      let out = ''
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d))
      const until = async (re: RegExp) => {
        const deadline = Date.now() + 10_000
        while (!re.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
        return re.exec(out)
      }
      const banner = await until(/wirekit proxy 127\.0\.0\.1:(\d+) -> /)
      assert.ok(banner, `no banner in ${JSON.stringify(out)}`)
      const sock = connect(Number(banner[1]), '127.0.0.1')
      const reset = once(sock, 'error')
      let echoed = ''
      sock.setEncoding('utf8').on('data', (d: string) => (echoed += d))
      sock.write('through the proxy')
      const deadline = Date.now() + 10_000
      while (echoed.length < 17 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
      assert.equal(echoed, 'through the proxy')
      child.stdin.write('reset\n')
      assert.ok(await until(/reset 1 connection\(s\)/))
      const [error] = (await reset) as [NodeJS.ErrnoException]
      assert.equal(error.code, 'ECONNRESET')
    } finally {
      child.kill('SIGTERM')
      await once(child, 'exit')
      echo.close()
    }
  })
})
