// Reachability against real local servers: online and offline as a server stops and starts, events only on changes,
// backoff while offline, TCP-connect probes, and misuse.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import http from 'node:http'
import net, { type AddressInfo } from 'node:net'
import { after, describe, test } from 'node:test'
import { ErrorCodes, isWirekitError } from '../../src/errors.ts'
import { Reachability } from '../../src/http/reachability.ts'

const watchers: Reachability[] = []
const servers: net.Server[] = []

after(async () => {
  for (const w of watchers) w.stop()
  for (const s of servers) {
    if (s instanceof http.Server) s.closeAllConnections()
    s.close()
  }
})

function watch(url: string, options: ConstructorParameters<typeof Reachability>[1]): Reachability {
  const r = new Reachability(url, options)
  watchers.push(r)
  return r
}

/** An HTTP server counting requests; listen on `port` (0 for any). */
async function httpServer(port = 0): Promise<{ server: http.Server; port: number; requests: () => number }> {
  let requests = 0
  const server = http.createServer((_req, res) => {
    requests++
    res.writeHead(404).end()
  })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  return { server, port: (server.address() as AddressInfo).port, requests: () => requests }
}

function stopServer(server: http.Server): Promise<void> {
  server.closeAllConnections()
  return new Promise((resolve) => server.close(() => resolve()))
}

/** Waits for `event`, failing after `ms` so a broken implementation cannot hang the run. */
async function next(r: Reachability, event: 'online' | 'offline', ms = 10_000): Promise<void> {
  await once(r, event, { signal: AbortSignal.timeout(ms) })
}

describe('Reachability', () => {
  test('goes offline when the server stops and online again when it restarts', async () => {
    const first = await httpServer()
    const r = watch(`http://127.0.0.1:${first.port}/health`, {
      interval: 50,
      timeout: 2_000,
      backoff: { initialDelay: 50, maxDelay: 200 },
    })
    assert.equal(r.status, 'unknown')
    const online = next(r, 'online')
    r.start()
    await online
    assert.equal(r.status, 'online')

    const offline = next(r, 'offline')
    await stopServer(first.server)
    await offline
    assert.equal(r.status, 'offline')
    assert.ok(r.lastError instanceof Error)

    const back = next(r, 'online')
    await httpServer(first.port)
    await back
    assert.equal(r.status, 'online')
  })

  test('emits only on changes, not on every probe', async () => {
    const { port, requests } = await httpServer()
    const r = watch(`http://127.0.0.1:${port}/`, { interval: 20 })
    let onlineEvents = 0
    r.on('online', () => onlineEvents++)
    r.start()
    const deadline = Date.now() + 10_000
    while (requests() < 5 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20))
    r.stop()
    assert.ok(requests() >= 5, 'several probes ran')
    assert.equal(onlineEvents, 1)
  })

  test('any HTTP answer counts as reachable, even a 404', async () => {
    const { port } = await httpServer()
    const r = watch(`http://127.0.0.1:${port}/missing`, {})
    assert.equal(await r.check(), 'online')
  })

  test('backs off while offline instead of probing at the online interval', async () => {
    let connections = 0
    const broken = net.createServer((socket) => {
      connections++
      socket.destroy() // accepts, then hangs up before any HTTP answer: the probe fails
    })
    servers.push(broken)
    await new Promise<void>((resolve) => broken.listen(0, '127.0.0.1', resolve))
    const port = (broken.address() as AddressInfo).port
    const r = watch(`http://127.0.0.1:${port}/`, {
      interval: 10,
      backoff: { initialDelay: 300, factor: 20, jitter: 0, maxDelay: 60_000 },
    })
    const offline = next(r, 'offline')
    r.start()
    await offline
    await new Promise((res) => setTimeout(res, 1_000))
    r.stop()
    // At the 10 ms online interval this would be ~100 probes; backing off: at 0 ms, ~300 ms, then ~6 s.
    assert.ok(connections >= 1 && connections <= 3, `probes while offline: ${connections}`)
  })

  test('stop() ends probing', async () => {
    const { port, requests } = await httpServer()
    const r = watch(`http://127.0.0.1:${port}/`, { interval: 20 })
    await next(r.start(), 'online')
    r.stop()
    const atStop = requests()
    await new Promise((res) => setTimeout(res, 300))
    assert.ok(requests() <= atStop + 1, 'at most the probe already under way')
  })

  test('a tcp:// URL is probed with a TCP connect', async () => {
    let accepted = 0
    const server = net.createServer((socket) => {
      accepted++
      socket.destroy()
    })
    servers.push(server)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as AddressInfo).port
    const r = watch(`tcp://127.0.0.1:${port}`, {})
    assert.equal(await r.check(), 'online')
    await new Promise<void>((resolve) => server.close(() => resolve()))
    assert.equal(await r.check(), 'offline')
    assert.equal(accepted, 1)
  })

  test('a bad URL throws WK_HTTP_BAD_URL and bad options WK_INVALID_ARGUMENT', () => {
    assert.throws(
      () => new Reachability('not a url'),
      (e: unknown) => isWirekitError(e, ErrorCodes.HTTP_BAD_URL),
    )
    assert.throws(
      () => new Reachability('ftp://x/'),
      (e: unknown) => isWirekitError(e, ErrorCodes.HTTP_BAD_URL),
    )
    assert.throws(
      () => new Reachability('http://x/', { interval: 0 }),
      (e: unknown) => isWirekitError(e, ErrorCodes.INVALID_ARGUMENT),
    )
    assert.throws(
      () => new Reachability('tcp://x:1', { probe: 'head' }),
      (e: unknown) => isWirekitError(e, ErrorCodes.INVALID_ARGUMENT),
    )
  })
})
