import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import type { Peer } from '../../src/messaging/index.ts'
import { FaultProxy } from '../../src/proxy/index.ts'
import { launchChromium } from '../helpers/browser.ts'
import { type PageServer, startPageServer, stopPageServer } from './page-server.ts'

// Page code runs in Chromium: these names are the browser's, and the bundle is loaded by URL.
// biome-ignore lint/suspicious/noExplicitAny: browser globals inside page.evaluate
declare const window: any
// biome-ignore lint/suspicious/noExplicitAny: browser globals inside page.evaluate
declare const sessionStorage: any
const BUNDLE = '/wirekit-client.js'

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

async function produce(n: number, send: (i: number) => unknown): Promise<void> {
  for (let i = 0; i < n; i++) {
    send(i)
    if (i % 100 === 99) await new Promise((r) => setTimeout(r, 5))
  }
}

describe('MessageClient in Chromium against a MessageServer', () => {
  let browser: Browser
  let web: PageServer
  const pages: Page[] = []

  before(async () => {
    browser = await launchChromium()
    web = await startPageServer({ retention: 30_000, peerBuffer: { maxMessages: 50_000 } })
    web.server.handle('echo', (data) => data)
    web.server.handle('join', (room: string, peer: Peer) => {
      peer.join(room)
      return true
    })
    // Answers, then pushes 'after' a few microtasks later: the response and the push leave in one
    // flush, so in one batch envelope (the server flushes once per turn).
    web.server.handle('then-push', (_data: unknown, peer: Peer) => {
      let later = Promise.resolve()
      for (let i = 0; i < 20; i++) later = later.then(() => {})
      void later.then(() => peer.emit('after', 1).catch(() => {}))
      return 'answer'
    })
  })

  after(async () => {
    for (const page of pages) await page.close().catch(() => {})
    await browser?.close()
    if (web !== undefined) await stopPageServer(web)
  })

  async function openPage(): Promise<Page> {
    const page = await browser.newPage()
    pages.push(page)
    await page.goto(web.origin)
    return page
  }

  test('a page requests, receives pushes and joins rooms with the bundled client', async () => {
    const page = await openPage()
    const connected = new Promise<Peer>((resolve) => web.server.once('connection', resolve))
    const reply = await page.evaluate(
      async ([url, bundle]) => {
        const { MessageClient } = await import(bundle!)
        const client = await MessageClient.connect(url)
        ;(window as unknown as Record<string, unknown>).client = client
        const w = window as unknown as { pushes: unknown[] }
        w.pushes = []
        client.on('news', (m: unknown) => w.pushes.push(m))
        client.on('room', (m: unknown) => w.pushes.push(m))
        await client.request('join', 'r1')
        return client.request('echo', { hi: 1 })
      },
      [`ws://127.0.0.1:${web.port}/ws`, BUNDLE],
    )
    assert.deepEqual(reply, { hi: 1 })
    const peer = await connected
    await peer.emit('news', 'direct')
    web.server.to('r1').emit('room', 'to the room')
    web.server.to('other').emit('room', 'not for us')
    await page.waitForFunction(() => (window as unknown as { pushes: unknown[] }).pushes.length >= 2)
    await new Promise((r) => setTimeout(r, 50))
    assert.deepEqual(await page.evaluate(() => (window as unknown as { pushes: unknown[] }).pushes), [
      'direct',
      'to the room',
    ])
  })

  test('3,000 messages each way through a proxy resetting every connection every 40 ms: none lost, none duplicated, in order', async () => {
    const N = 3000
    const proxy = await FaultProxy.start({ target: { port: web.port }, resetEvery: 40 })
    const fromPage: number[] = []
    // A first HELLO whose WELCOME was reset away leaves an orphan session: listen on every one.
    const onConnection = (peer: Peer) => peer.on('c', (i: number) => fromPage.push(i))
    web.server.on('connection', onConnection)
    try {
      const page = await openPage()
      const sessionId: string = await page.evaluate(
        async ({ url, bundle }) => {
          const { MessageClient } = await import(bundle)
          const client = await MessageClient.connect(url, {
            reconnect: { initialDelay: 5, maxDelay: 50, retryFirstConnect: true },
            connectTimeout: 2000,
          })
          window.client = client
          window.got = []
          window.resumes = 0
          window.lost = 0
          client.on('s', (i: number) => window.got.push(i))
          client.on('resumed', () => window.resumes++)
          client.on('sessionLost', () => window.lost++)
          return client.sessionId
        },
        { url: `ws://127.0.0.1:${proxy.port}/ws`, bundle: BUNDLE },
      )
      const peer = web.server.peers.get(sessionId)!
      const pageSends = page.evaluate(async (n) => {
        const sends: Promise<void>[] = []
        for (let i = 0; i < n; i++) {
          sends.push(window.client.emit('c', i))
          if (i % 100 === 99) await new Promise((r) => setTimeout(r, 5))
        }
        await Promise.all(sends)
      }, N)
      await produce(N, (i) => peer.emit('s', i).catch(() => {}))
      await pageSends
      await page.waitForFunction((n) => window.got.length >= n, N, { timeout: 60_000 })
      const deadline = Date.now() + 30_000
      while (fromPage.length < N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
      await new Promise((r) => setTimeout(r, 100))
      const { got, resumes, lost } = await page.evaluate(() => ({
        got: window.got,
        resumes: window.resumes,
        lost: window.lost,
      }))
      assert.deepEqual(fromPage, range(N), 'page → server stream')
      assert.deepEqual(got, range(N), 'server → page stream')
      assert.equal(lost, 0)
      assert.ok(
        resumes > 0 && proxy.stats.resets > 0,
        `connections were reset (${proxy.stats.resets}) and resumed (${resumes})`,
      )
    } finally {
      web.server.off('connection', onConnection)
      await proxy.close()
    }
  })

  test('going offline then online reconnects at once instead of waiting out the backoff', async () => {
    const page = await openPage()
    const sessionId: string = await page.evaluate(
      async ({ url, bundle }) => {
        const { MessageClient } = await import(bundle)
        // A first retry 20 s away: only the 'online' event can bring the client back within the test.
        const client = await MessageClient.connect(url, { reconnect: { initialDelay: 20_000, jitter: 0 } })
        window.lifeClient = client
        return client.sessionId
      },
      { url: `ws://127.0.0.1:${web.port}/ws`, bundle: BUNDLE },
    )
    await page.context().setOffline(true)
    web.server.peers.get(sessionId)!.conn?.socket.destroy()
    await page.waitForFunction(() => window.lifeClient.state === 'reconnecting', undefined, { timeout: 5000 })
    const started = Date.now()
    await page.context().setOffline(false)
    await page.waitForFunction(() => window.lifeClient.state === 'connected', undefined, { timeout: 5000 })
    assert.ok(Date.now() - started < 5000)
    assert.equal(await page.evaluate(() => window.lifeClient.sessionId), sessionId)
  })

  test('code awaiting a response runs before the next envelope of the same batch, as with one message each', async () => {
    const page = await openPage()
    const seen = await page.evaluate(
      async ([url, bundle]) => {
        const { MessageClient } = await import(bundle!)
        const client = await MessageClient.connect(url)
        const log: string[] = []
        let answered = false
        const pushed = new Promise<void>((resolve) =>
          client.on('after', () => {
            log.push(`after, answered: ${answered}`)
            resolve()
          }),
        )
        const answer = await client.request('then-push')
        answered = true
        log.push(`answer ${answer}`)
        await pushed
        await client.close()
        return log
      },
      [`ws://127.0.0.1:${web.port}/ws`, BUNDLE],
    )
    assert.deepEqual(seen, ['answer answer', 'after, answered: true'])
  })

  test("a page reload mid-stream with persist: 'session' loses and duplicates nothing, either way", async () => {
    const N = 2000
    const page = await openPage()
    const fromPage: number[] = []
    const toPage: number[] = []
    await page.exposeFunction('report', (i: number) => toPage.push(i))
    const connected = new Promise<Peer>((resolve) =>
      web.server.once('connection', (peer: Peer) => {
        peer.on('c', (i: number) => fromPage.push(i))
        resolve(peer)
      }),
    )
    const run = (url: string, n: number) =>
      page.evaluate(
        async ({ url, n, bundle }) => {
          const { MessageClient } = await import(bundle)
          const client = await MessageClient.connect(url, {
            persist: 'session',
            reconnect: { initialDelay: 5 },
          })
          // The page records what its handler got in sessionStorage, synchronously: a report call
          // still in flight over CDP when the page unloads is lost, and that is not the client's doing.
          const report = (window as unknown as { report: (i: number) => void }).report
          client.on('s', (i: number) => {
            sessionStorage.setItem('got', `${sessionStorage.getItem('got') ?? ''}${i},`)
            report(i)
          })
          ;(async () => {
            let next = Number(sessionStorage.getItem('next') ?? 0)
            while (next < n) {
              client.emit('c', next).catch(() => {})
              sessionStorage.setItem('next', String(++next))
              if (next % 20 === 0) await new Promise((r) => setTimeout(r, 3))
            }
          })()
        },
        { url, n, bundle: BUNDLE },
      )
    const url = `ws://127.0.0.1:${web.port}/ws`
    await run(url, N)
    const peer = await connected
    const pushing = produce(N, (i) => peer.emit('s', i).catch(() => {}))
    const deadline = Date.now() + 20_000
    while ((fromPage.length < N / 3 || toPage.length < N / 4) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 5))
    await page.reload()
    await run(url, N)
    await pushing
    const got = async () =>
      ((await page.evaluate(() => sessionStorage.getItem('got'))) as string | null)
        ?.split(',')
        .filter(Boolean)
        .map(Number) ?? []
    const end = Date.now() + 30_000
    while ((fromPage.length < N || (await got()).length < N) && Date.now() < end)
      await new Promise((r) => setTimeout(r, 50))
    await new Promise((r) => setTimeout(r, 100))
    assert.deepEqual(fromPage, range(N), 'page → server across the reload')
    assert.deepEqual(await got(), range(N), 'server → page across the reload')
    // The reports over CDP are a lower bound (those in flight at the reload are lost) and never more.
    assert.ok(toPage.length <= N && new Set(toPage).size === toPage.length)
  })
})
