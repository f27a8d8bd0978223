// Connect options that only the kernel sees, checked by their observable effect: the address and
// port the server sees, the address family chosen, and the keep-alive timer in /proc/net/tcp (Linux).
import assert from 'node:assert/strict'
import { lookup } from 'node:dns/promises'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import net from 'node:net'
import { after, describe, test } from 'node:test'
import { isWirekitError } from '../../src/errors.ts'
import { AsyncServer, AsyncSocket } from '../../src/socket/index.ts'
import { Resources, within } from './helpers.ts'

const resources = new Resources()
after(() => resources.closeAll())

/** An AsyncServer on `host`; `next()` resolves with the next socket it accepts. */
async function server(host = '127.0.0.1') {
  const waiting: ((socket: AsyncSocket) => void)[] = []
  const early: AsyncSocket[] = []
  const listening = resources.add(
    await AsyncServer.listen({ port: 0, host }, (socket) => {
      const take = waiting.shift()
      if (take) take(socket)
      else early.push(socket)
    }),
    (s) => s.close(),
  )
  const next = (): Promise<AsyncSocket> => {
    const socket = early.shift()
    if (socket) return Promise.resolve(socket)
    return within(new Promise<AsyncSocket>((resolve) => waiting.push(resolve)), 2000, 'accept')
  }
  return { port: listening.port, next }
}

/** A port nobody uses right now (bound, then released). */
async function freePort(): Promise<number> {
  const probe = net.createServer()
  probe.listen(0, '127.0.0.1')
  await once(probe, 'listening')
  const { port } = probe.address() as net.AddressInfo
  await new Promise((resolve) => probe.close(resolve))
  return port
}

/** The /proc/net/tcp line of the IPv4 connection from `localPort` to `remotePort`. */
function procTcpLine(localPort: number, remotePort: number): string[] {
  const hex = (port: number): string => port.toString(16).toUpperCase().padStart(4, '0')
  const line = readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .find((f) => f[1]?.endsWith(`:${hex(localPort)}`) && f[2]?.endsWith(`:${hex(remotePort)}`))
  assert.ok(line, `no /proc/net/tcp entry for ${localPort} → ${remotePort}`)
  return line
}

describe('connect options', () => {
  test('localPort binds the connection to that port: the server sees it as the remote port', async () => {
    const { port, next } = await server()
    const localPort = await freePort()
    const client = resources.socket(await AsyncSocket.connect({ host: '127.0.0.1', port, localPort }))
    const peer = resources.socket(await next())
    assert.equal(client.localPort, localPort)
    assert.equal(peer.remotePort, localPort)
  })

  test('localAddress picks the source address: the server sees it as the remote address', async () => {
    const { port, next } = await server()
    // Linux routes all of 127.0.0.0/8 to loopback, so 127.0.0.2 is a second local address.
    const client = resources.socket(
      await AsyncSocket.connect({ host: '127.0.0.1', port, localAddress: '127.0.0.2' }),
    )
    const peer = resources.socket(await next())
    assert.equal(client.localAddress, '127.0.0.2')
    assert.equal(peer.remoteAddress, '127.0.0.2')
  })

  test('family restricts the name lookup to one address family', async () => {
    const addresses = await lookup('localhost', { all: true })
    const hasV6 = addresses.some((a) => a.family === 6)
    const v4 = await server('127.0.0.1')
    const client = resources.socket(
      await AsyncSocket.connect({ host: 'localhost', port: v4.port, family: 4 }),
    )
    assert.equal(client.remoteFamily, 'IPv4')
    if (hasV6) {
      const v6 = await server('::1')
      const six = resources.socket(await AsyncSocket.connect({ host: 'localhost', port: v6.port, family: 6 }))
      assert.equal(six.remoteFamily, 'IPv6')
    } else {
      // 'localhost' has no IPv6 address on this machine: an IPv6-only lookup finds nothing.
      await assert.rejects(AsyncSocket.connect({ host: 'localhost', port: v4.port, family: 6 }), (error) =>
        isWirekitError(error, 'WK_HOST_NOT_FOUND'),
      )
    }
  })

  test('keepAlive arms the kernel keep-alive timer with keepAliveInitialDelay; without it none runs', async () => {
    const { port } = await server()
    const plain = resources.socket(await AsyncSocket.connect({ host: '127.0.0.1', port }))
    const probing = resources.socket(
      await AsyncSocket.connect({ host: '127.0.0.1', port, keepAlive: true, keepAliveInitialDelay: 30_000 }),
    )
    // Field 5 is `timer:when`: timer 02 is keep-alive, `when` counts down in hundredths of a second.
    const [timer, when] = procTcpLine(probing.localPort!, port)[5]!.split(':') as [string, string]
    assert.equal(timer, '02')
    const seconds = Number.parseInt(when, 16) / 100
    assert.ok(seconds > 20 && seconds <= 30, `keep-alive due in ${seconds} s`)
    assert.notEqual(procTcpLine(plain.localPort!, port)[5]!.split(':')[0], '02')
  })
})
