// UdpSocket on loopback: send and receive, the connected-peer filter, IPv6, the size limit, the
// broadcast flag, and multicast where the kernel allows it (otherwise the refusal is asserted).
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { isWirekitError } from '../../src/errors.ts'
import { MAX_DATAGRAM_IPV4, UdpSocket } from '../../src/socket/index.ts'
import { Resources, within } from './helpers.ts'

const resources = new Resources()
after(() => resources.closeAll())

const bind = async (options: Parameters<typeof UdpSocket.bind>[0] = {}) =>
  resources.add(await UdpSocket.bind({ address: '127.0.0.1', ...options }), (s) => s.close())

describe('UdpSocket', () => {
  test('send() delivers a datagram that receive() returns with its sender', async () => {
    const a = await bind()
    const b = await bind()
    await a.send('ping', { port: b.port, host: '127.0.0.1' }, { tag: 1 })
    const datagram = await within(b.receive({ timeout: 2000 }), 3000, 'receive')
    assert.equal(datagram.data.toString(), 'ping')
    assert.equal(datagram.port, a.port)
    assert.equal(datagram.family, 'IPv4')
  })

  test('for await yields datagrams in arrival order until close', async () => {
    const a = await bind()
    const b = await bind()
    for (let i = 0; i < 5; i++) await a.send(`d${i}`, { port: b.port })
    const got: string[] = []
    for await (const datagram of b) {
      got.push(datagram.data.toString())
      if (got.length === 5) await b.close()
    }
    assert.deepEqual(got, ['d0', 'd1', 'd2', 'd3', 'd4'])
  })

  test('a connected socket receives only from its peer', async () => {
    const receiver = await bind()
    const friend = await bind()
    const stranger = await bind()
    await receiver.connect(friend.port, '127.0.0.1')
    await stranger.send('from stranger', { port: receiver.port })
    await friend.send('from friend', { port: receiver.port })
    const datagram = await within(receiver.receive({ timeout: 2000 }), 3000, 'receive')
    assert.equal(datagram.data.toString(), 'from friend')
    await assert.rejects(receiver.receive({ timeout: 100 }), (error) =>
      isWirekitError(error, 'WK_READ_TIMEOUT'),
    )
  })

  test('IPv6 loopback works', async () => {
    const a = await bind({ address: '::1' })
    const b = await bind({ address: '::1' })
    await a.send('v6', { port: b.port, host: '::1' })
    const datagram = await within(b.receive({ timeout: 2000 }), 3000, 'receive')
    assert.equal(datagram.data.toString(), 'v6')
    assert.equal(datagram.family, 'IPv6')
  })

  test('a datagram over the IPv4 limit is refused with WK_DATAGRAM_TOO_LARGE, not truncated', async () => {
    const a = await bind()
    await assert.rejects(a.send(Buffer.alloc(MAX_DATAGRAM_IPV4 + 1), { port: 9 }), (error) =>
      isWirekitError(error, 'WK_DATAGRAM_TOO_LARGE'),
    )
    const b = await bind()
    await a.send(Buffer.alloc(MAX_DATAGRAM_IPV4, 1), { port: b.port })
    assert.equal((await within(b.receive({ timeout: 2000 }), 3000, 'big')).data.length, MAX_DATAGRAM_IPV4)
  })

  test('sending to a broadcast address needs the broadcast flag', async () => {
    const a = await bind({ address: '0.0.0.0' })
    await assert.rejects(a.send('hello all', { port: 9, host: '255.255.255.255' }), (error) =>
      isWirekitError(error, 'WK_SOCKET_FAILED'),
    )
    a.setBroadcast(true)
    await a.send('hello all', { port: 9, host: '255.255.255.255' })
  })

  test('multicast on loopback delivers to a member, or the kernel refusal is reported with its code', async () => {
    const group = '239.255.42.99'
    const member = resources.add(await UdpSocket.bind({ address: '0.0.0.0', reuseAddr: true }), (s) =>
      s.close(),
    )
    const sender = await bind()
    let joined = true
    try {
      member.addMembership(group, '127.0.0.1')
      sender.setMulticastInterface('127.0.0.1')
      sender.setMulticastLoopback(true)
      sender.setMulticastTTL(1)
    } catch (error) {
      joined = false
      // The kernel refused to join on lo: the reason is a system error code, not a silent skip.
      assert.match(String((error as { code?: string }).code), /^E[A-Z]+$/)
    }
    if (joined) {
      const outcome = await sender.send('to the group', { port: member.port, host: group }).then(
        () =>
          member.receive({ timeout: 1000 }).then(
            (d) => d.data.toString(),
            (e) => e.code,
          ),
        (error) => error.code,
      )
      // Delivered, or the route/loopback is missing in this network namespace and the code says so.
      assert.ok(
        ['to the group', 'WK_SOCKET_FAILED', 'WK_READ_TIMEOUT'].includes(outcome),
        `outcome ${outcome}`,
      )
      member.dropMembership(group, '127.0.0.1')
    }
  })

  test('paused sockets queue datagrams and resume() hands them out', async () => {
    const a = await bind()
    const b = await bind()
    b.pause()
    const waiting = b.receive({ timeout: 3000 })
    await a.send('held', { port: b.port })
    await new Promise((resolve) => setTimeout(resolve, 50))
    assert.equal(b.queued, 1)
    b.resume()
    assert.equal((await waiting).data.toString(), 'held')
  })
})
