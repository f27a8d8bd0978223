// Connection caps: silent connections from one address cannot lock out a client that logs in, one
// address cannot take every slot, and the defaults are finite.
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { MessageClient, MessageServer } from '../../src/messaging/index.ts'
import { startServer } from '../messaging/helpers.ts'
import { RawPeer } from './raw-peer.ts'

const peers: RawPeer[] = []
const closers: (() => Promise<unknown>)[] = []
after(async () => {
  for (const peer of peers) peer.destroy()
  for (const close of closers) await close()
})

test('40 silent connections do not lock a client out of a server capped at 32 connections', async () => {
  const { server, url, port } = await startServer({ maxConnections: 32, authTimeout: 30_000 })
  closers.push(() => server.close())
  server.handle('echo', (data) => data)
  for (let i = 0; i < 40; i++) peers.push(await RawPeer.connect(port))
  await new Promise((r) => setTimeout(r, 100))
  // The oldest silent ones made room for the newer ones.
  assert.equal(server.connectionCount, 32)
  assert.equal(peers.filter((p) => p.goaway?.code === 'WK_MAX_CONNECTIONS').length, 8)
  const client = await MessageClient.connect(url, { reconnect: false })
  closers.push(() => client.close())
  assert.equal(await client.request('echo', 'still served'), 'still served')
})

test('40 silent connections from one address do not lock a client from that address out when the per-address cap is 8', async () => {
  const { server, url, port } = await startServer({ maxConnectionsPerAddress: 8, authTimeout: 30_000 })
  closers.push(() => server.close())
  server.handle('echo', (data) => data)
  for (let i = 0; i < 40; i++) peers.push(await RawPeer.connect(port))
  await new Promise((r) => setTimeout(r, 100))
  assert.equal(server.connectionCount, 8)
  const client = await MessageClient.connect(url, { reconnect: false })
  closers.push(() => client.close())
  assert.equal(await client.request('echo', 'still served'), 'still served')
})

test('maxConnectionsPerAddress refuses a newcomer with WK_MAX_CONNECTIONS when all of that address’s connections have logged in', async () => {
  const { server, port } = await startServer({ maxConnectionsPerAddress: 3 })
  closers.push(() => server.close())
  const logged: RawPeer[] = []
  for (let i = 0; i < 3; i++) {
    const peer = await RawPeer.connect(port)
    peers.push(peer)
    await peer.login()
    logged.push(peer)
  }
  const fourth = await RawPeer.connect(port)
  peers.push(fourth)
  await fourth.until(() => fourth.closed, 5000, 'the refusal')
  assert.equal(fourth.goaway?.code, 'WK_MAX_CONNECTIONS')
  for (const peer of logged) assert.equal(peer.closed, false)
})

test('a connection that never says HELLO is cut after the default handshake timeout of 5 s, not 10 s', async () => {
  const { server, port } = await startServer()
  closers.push(() => server.close())
  const peer = await RawPeer.connect(port)
  peers.push(peer)
  const started = Date.now()
  await peer.until(() => peer.closed, 9000, 'the handshake timeout')
  const elapsed = Date.now() - started
  assert.equal(peer.goaway?.code, 'WK_AUTH_TIMEOUT')
  assert.ok(elapsed >= 4500 && elapsed < 8000, `cut after ${elapsed} ms`)
})

test('the defaults are finite: a total cap within the open-file limit, 1024 per address, a 5 s handshake, 64 KiB frames before login', async () => {
  const server = new MessageServer()
  const limits = server.limits
  assert.ok(Number.isFinite(limits.maxConnections) && limits.maxConnections <= 10_000)
  assert.equal(limits.maxConnectionsPerAddress, 1024)
  assert.equal(limits.authTimeout, 5000)
  assert.equal(limits.maxHandshakeFrameLength, 64 * 1024)
})
