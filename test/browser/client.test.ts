import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import type { Peer } from '../../src/messaging/index.ts'
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
          const report = (window as unknown as { report: (i: number) => void }).report
          client.on('s', (i: number) => report(i))
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
    const end = Date.now() + 30_000
    while ((fromPage.length < N || toPage.length < N) && Date.now() < end)
      await new Promise((r) => setTimeout(r, 20))
    await new Promise((r) => setTimeout(r, 100))
    assert.deepEqual(fromPage, range(N), 'page → server across the reload')
    assert.deepEqual(toPage, range(N), 'server → page across the reload')
  })
})
