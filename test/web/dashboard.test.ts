import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { type Browser, chromium } from 'playwright-core'
import { closeWeb, serve } from '../../src/cli/serve.ts'
import { MessageClient } from '../../src/messaging/index.ts'

// The dashboard in real Chromium: figures rise as clients talk, no CSP violation, a non-blank screenshot.
// The screenshot goes to the test output folder (docs/dashboard.png is taken by test/browser/chat-page.test.ts).
const cleanup: (() => unknown)[] = []
after(async () => {
  for (const fn of cleanup.reverse()) await fn()
})

test('the dashboard shows connections, rooms and message rates rising, under a strict CSP, and screenshots non-blank', {
  timeout: 60_000,
}, async () => {
  const logs: string[] = []
  const server = await serve({
    host: '127.0.0.1',
    port: 0,
    http: '127.0.0.1:0',
    adminToken: 'dash-token',
    signal: AbortSignal.abort(),
    log: (l) => logs.push(l),
  })
  cleanup.push(async () => {
    await closeWeb(server)
    await server.close()
  })
  const base = /wirekit http on (http:\/\/[^/]+)\//.exec(logs.join('\n'))![1]!
  const address = server.addresses[0]!
  const url = `tcp://127.0.0.1:${'port' in address ? address.port : 0}`

  const browser: Browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox'],
  })
  cleanup.push(() => browser.close())
  const page = await browser.newPage({ viewport: { width: 1100, height: 760 } })
  const problems: string[] = []
  page.on('console', (m) => m.type() === 'error' && problems.push(m.text()))
  page.on('pageerror', (e) => problems.push(e.message))
  // The token rides in the fragment and goes out in the feed's credentials (public listener: token required).
  await page.goto(`${base}/dashboard#token=dash-token`)
  const value = (label: string) => page.textContent(`[data-series="${label}"]`)
  await page.waitForFunction("document.getElementById('status')?.className === 'live'")

  const clients = await Promise.all(
    ['alice', 'bob'].map((name) => MessageClient.connect(url, { credentials: { name } })),
  )
  cleanup.push(() => Promise.all(clients.map((c) => c.close())))
  for (const c of clients) await c.request('join', 'lobby')
  // Talk for a few seconds so the per-second rates are sampled while messages flow (bounded: 80 lines).
  for (let i = 0; i < 80; i++) {
    await clients[i % 2]!.emit('say', { room: 'lobby', text: `line ${i}` })
    await new Promise((r) => setTimeout(r, 40))
    if (i === 60) {
      assert.notEqual(await value('Messages in'), '0/s', 'messages in per second while lines flow')
      assert.notEqual(await value('Messages out'), '0/s')
    }
  }
  await page.waitForFunction(
    `document.querySelector('[data-series="Sessions connected"]')?.textContent === '2'`,
  )
  assert.equal(await value('Connections'), '2')
  assert.equal(await value('Rooms'), '1')
  assert.equal(await value('Room members'), '2')
  const points = await page.getAttribute('polyline', 'points')
  assert.ok(points && points.split(' ').length >= 3, 'the first chart has drawn a line')

  const png = await page.screenshot({ fullPage: true })
  const dir = join(tmpdir(), 'wirekit-test-output')
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'dashboard.png'), png)
  // Non-blank: decode the PNG in a blank page (no CSP there) and count its colours.
  const blank = await browser.newPage()
  const colours = (await blank.evaluate(`(async () => {
    const bitmap = await createImageBitmap(await (await fetch('data:image/png;base64,${png.toString('base64')}')).blob())
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height)
    const ctx = canvas.getContext('2d')
    ctx.drawImage(bitmap, 0, 0)
    const data = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data
    const seen = new Set()
    for (let i = 0; i < data.length; i += 4 * 7) seen.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2])
    return seen.size
  })()`)) as number
  assert.ok(colours > 20, `the screenshot has ${colours} colours`)
  // No console error: nothing refused by the CSP, no script error.
  assert.deepEqual(problems, [])
})
