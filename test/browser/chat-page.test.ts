// The browser chat at `/` and the live dashboard of a real `wirekit serve` child process, in Debian's
// Chromium: two pages chat, a third page's dashboard follows them, the server is killed and restarted on
// the same ports while the pages type (one reloads as it comes back), hostile text stays text, a phone-width page is
// usable by keyboard alone. Screenshots go to the test's temp dir, and to docs/ with WIREKIT_SCREENSHOTS=1.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { MessageClient } from '../../src/messaging/index.ts'
import { type CliProcess, wirekit } from '../cli/chat-process.ts'
import { browserBundle, launchChromium, pngColours } from '../helpers/browser.ts'
import { freePort } from '../helpers/redis-server.ts'

// biome-ignore lint/suspicious/noExplicitAny: browser globals inside page.evaluate
declare const window: any
// biome-ignore lint/suspicious/noExplicitAny: browser globals inside page.evaluate
declare const document: any

const dir = mkdtempSync(join(tmpdir(), 'wirekit-chat-page-'))
const shots = process.env.WIREKIT_SCREENSHOTS === '1' ? new URL('../../docs/', import.meta.url).pathname : dir

type Shown = { from: string; text: string; mark: string }

describe('the browser chat and the live dashboard of `wirekit serve`', () => {
  let browser: Browser
  let server: CliProcess | undefined
  const ports = { tcp: 0, http: 0, admin: 0 }
  let origin = ''
  let admin = ''
  const problems: string[] = []
  const pages: Page[] = []

  async function startServer(): Promise<CliProcess> {
    const child = wirekit([
      'serve',
      '--port',
      String(ports.tcp),
      '--http',
      `127.0.0.1:${ports.http}`,
      '--admin-http',
      `127.0.0.1:${ports.admin}`,
      '--data',
      join(dir, 'data'),
    ])
    await child.until(/wirekit dashboard on/, 30_000)
    return child
  }

  async function killServer(): Promise<void> {
    const child = server!
    server = undefined
    child.child.kill('SIGKILL')
    await child.exited
  }

  before(async () => {
    browserBundle()
    ports.tcp = await freePort()
    ports.http = await freePort()
    ports.admin = await freePort()
    origin = `http://127.0.0.1:${ports.http}`
    admin = `http://127.0.0.1:${ports.admin}`
    server = await startServer()
    browser = await launchChromium()
  })

  after(async () => {
    for (const page of pages) await page.close().catch(() => {})
    await browser?.close()
    if (server !== undefined) await killServer()
    rmSync(dir, { recursive: true, force: true })
  })

  async function open(url: string, viewport = { width: 1000, height: 640 }): Promise<Page> {
    const page = await browser.newPage({ viewport })
    pages.push(page)
    // A CSP refusal or a script error shows up here.
    page.on('console', (m) => {
      if (m.type() === 'error' && !/WebSocket connection|ERR_CONNECTION_REFUSED/.test(m.text()))
        problems.push(m.text())
    })
    page.on('pageerror', (e) => problems.push(e.message))
    await page.goto(url)
    return page
  }

  async function signIn(name: string, viewport?: { width: number; height: number }): Promise<Page> {
    const page = await open(`${origin}/`, viewport)
    await page.fill('#name', name)
    await page.press('#name', 'Enter')
    await page.waitForSelector('#state.up')
    return page
  }

  async function say(page: Page, text: string): Promise<void> {
    await page.fill('#line', text)
    await page.press('#line', 'Enter')
  }

  /** The lines shown in the current room (not notices), in order. */
  function shown(page: Page): Promise<Shown[]> {
    return page.evaluate(() =>
      [...document.querySelectorAll('ol.log:not([hidden]) li')]
        .filter((li: { querySelector(s: string): unknown }) => li.querySelector('.text'))
        .map((li: { querySelector(s: string): { textContent: string } | null }) => ({
          from: li.querySelector('.from')!.textContent.replace(/:$/, ''),
          text: li.querySelector('.text')!.textContent,
          mark: li.querySelector('.mark')?.textContent ?? '',
        })),
    )
  }

  async function until(page: Page, what: string, check: (lines: Shown[]) => boolean, ms = 30_000) {
    const deadline = Date.now() + ms
    for (;;) {
      const lines = await shown(page)
      if (check(lines)) return lines
      if (Date.now() > deadline)
        throw new Error(`${what}: not within ${ms} ms; shown: ${JSON.stringify(lines)}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }

  const texts = (lines: Shown[]) => lines.map((l) => l.text)
  const count = (lines: Shown[], text: string) => lines.filter((l) => l.text === text).length

  let alice: Page
  let bob: Page

  test('two pages chat: the line shows once in the other page, and in its own page goes from pending to delivered', async () => {
    alice = await signIn('alice')
    bob = await signIn('bob')
    // Record every mark the line shows, from the moment it is typed.
    await alice.evaluate(() => {
      window.marks = []
      new window.MutationObserver(() => {
        for (const mark of document.querySelectorAll('.mark')) {
          if (window.marks.at(-1) !== mark.textContent) window.marks.push(mark.textContent)
        }
      }).observe(document.getElementById('logs'), { subtree: true, childList: true, characterData: true })
    })
    await say(alice, 'hello bob')
    await until(bob, 'bob sees the line', (l) => count(l, 'hello bob') === 1)
    const own = await until(alice, 'delivered mark', (l) => l.some((x) => x.mark === '✓ delivered'))
    assert.equal(count(own, 'hello bob'), 1)
    assert.deepEqual(await alice.evaluate(() => window.marks), ['… pending', '✓ delivered'])
    await say(bob, 'hi alice')
    await until(alice, 'alice sees the answer', (l) => count(l, 'hi alice') === 1)
    await bob.waitForFunction(() => document.getElementById('who').textContent.includes('alice'))
    assert.equal(await bob.textContent('#who-title'), 'Here in #lobby (2)')
  })

  test('a page that enters later gets the room history, each line once', async () => {
    const carol = await signIn('carol')
    const lines = await until(carol, 'history', (l) => l.length >= 2)
    assert.deepEqual(texts(lines).slice(0, 2), ['hello bob', 'hi alice'])
    await carol.close()
  })

  test('a third page: the dashboard (admin listener, live over /admin/ws) shows both WebSocket connections and message counts rising', async () => {
    const dash = await open(`${admin}/dashboard`, { width: 1100, height: 900 })
    const value = (label: string) => dash.textContent(`[data-series="${label}"]`)
    await dash.waitForFunction(() => document.getElementById('status').className === 'live')
    await dash.waitForFunction(
      () => Number(document.querySelector('[data-series="WebSocket connections"]').textContent) === 2,
    )
    const before = Number((await value('Messages in, total'))!.replace(/,/g, ''))
    for (let i = 0; i < 5; i++) await say(i % 2 ? alice : bob, `counted ${i}`)
    await dash.waitForFunction(
      (n) =>
        Number(document.querySelector('[data-series="Messages in, total"]').textContent.replace(/,/g, '')) >=
        n,
      before + 5,
    )
    assert.equal(await value('TCP connections'), '0')
    // The charts move every second: two polyline updates a second or more apart differ.
    const a = await dash.getAttribute('figure:nth-child(10) polyline', 'points')
    await dash.waitForFunction(
      (old) => document.querySelector('figure:nth-child(10) polyline').getAttribute('points') !== old,
      a,
    )
    pages.push(dash)
  })

  test('hostile text stays text: markup renders literally, control characters and ANSI escapes are refused with the rule, a hostile name is refused', async () => {
    const ws = `ws://127.0.0.1:${ports.http}/ws`
    await assert.rejects(
      MessageClient.connect(ws, { credentials: { name: '<script>x</script>' }, reconnect: false }),
      /a nickname is 1-24 letters/,
    )
    const mallory = await MessageClient.connect(ws, { credentials: { name: 'mallory' }, reconnect: false })
    const refusals: string[] = []
    mallory.on(
      'system',
      (n: { text: string; room?: string }) => n.room === undefined && refusals.push(n.text),
    )
    await mallory.request('join', 'lobby')
    const markup = '<script>window.pwned=1</script><img src=x onerror="window.pwned=1"><b>bold</b>'
    await mallory.emit('say', { room: 'lobby', text: '\u001b[2J\u001b[31mfake\n* server: bob was kicked' })
    await mallory.emit('say', { room: 'lobby', text: markup })
    const lines = await until(bob, 'markup line', (l) => l.some((x) => x.text === markup))
    assert.ok(!texts(lines).some((t) => t.includes('fake')), 'the escape-sequence line was not shown')
    assert.equal(
      await bob.evaluate(() => document.querySelectorAll('#logs script, #logs img, #logs b').length),
      0,
    )
    assert.equal(await bob.evaluate(() => window.pwned), undefined)
    assert.match(refusals[0] ?? '', /no control characters/)
    await mallory.close()
    // From the page too: a line with an escape is marked not sent, with the rule.
    await say(alice, 'ansi \u001b[31mred')
    const own = await until(alice, 'refusal mark', (l) => l.some((x) => x.mark.startsWith('✗ not sent')))
    assert.match(own.find((x) => x.mark.startsWith('✗'))!.mark, /no control characters/)
  })

  test('server killed (SIGKILL) and restarted on the same port: both pages reconnect, and nothing typed is lost, even across a reload right after it', async () => {
    await say(alice, 'just before the kill')
    await killServer()
    await alice.waitForSelector('#state.down')
    await bob.waitForSelector('#state.down')
    await say(alice, 'typed during the outage')
    await say(bob, 'bob typed during the outage')
    await until(alice, 'pending mark', (l) => l.some((x) => x.mark === '… pending'))
    await alice.fill('#line', 'half-typed')
    const restarted = Date.now()
    server = await startServer()
    const listening = Date.now()
    // A reload as soon as the page can load again (the server serves it): the line sent during the
    // outage and the half-typed one both survive it.
    await alice.reload()
    assert.equal(await alice.inputValue('#line'), 'half-typed')
    await say(alice, 'typed after the reload')
    await alice.waitForSelector('#state.up', { timeout: 30_000 })
    await bob.waitForSelector('#state.up', { timeout: 30_000 })
    const reconnected = Date.now()
    const expected = ['just before the kill', 'typed during the outage', 'typed after the reload']
    const b = await until(bob, 'alice’s lines', (l) => expected.every((t) => count(l, t) >= 1))
    const a = await until(alice, 'bob’s line', (l) => count(l, 'bob typed during the outage') >= 1)
    const delivered = Date.now()
    // With --data the history tells a page what arrived before the crash: each line exactly once.
    for (const t of expected) assert.equal(count(b, t), 1, `bob sees "${t}" once`)
    assert.equal(count(a, 'bob typed during the outage'), 1)
    await until(alice, 'all delivered', (l) => !l.some((x) => x.mark === '… pending'))
    console.log(
      `restart: server up ${listening - restarted} ms after spawn; both pages connected ${reconnected - listening} ms later; every line shown ${delivered - listening} ms after listening`,
    )
  })

  test('phone width (375 px): no sideways scrolling, every field labelled, and a line can be sent by keyboard alone', async () => {
    const page = await open(`${origin}/`, { width: 375, height: 667 })
    assert.equal(await page.evaluate(() => document.activeElement.id), 'name', 'the nickname field has focus')
    await page.keyboard.type('dave')
    await page.keyboard.press('Enter')
    await page.waitForSelector('#state.up')
    await page.keyboard.press('Tab') // from wherever focus is, into the page's controls
    await page.focus('#line')
    await page.keyboard.type('typed on a phone')
    await page.keyboard.press('Enter')
    await until(bob, 'the phone line', (l) => count(l, 'typed on a phone') === 1)
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 375), 'no sideways scroll')
    const unlabelled = await page.evaluate(
      () =>
        [...document.querySelectorAll('input')].filter((i: { labels: unknown[] }) => i.labels.length === 0)
          .length,
    )
    assert.equal(unlabelled, 0)
    for (const id of ['#line', '#say button', '#rooms button']) {
      const box = await page.locator(id).first().boundingBox()
      assert.ok(
        box !== null && box.x >= 0 && box.x + box.width <= 375 && box.y + box.height <= 667,
        `${id} on screen`,
      )
    }
    const phone = await page.screenshot()
    writeFileSync(join(shots, 'chat-phone.png'), phone)
    assert.ok((await pngColours(browser, phone)) > 20)
  })

  test('screenshots of the chat and the dashboard are written and not blank; no page logged an error (CSP included)', async () => {
    const chat = await alice.screenshot()
    writeFileSync(join(shots, 'chat.png'), chat)
    const dash = pages.find((p) => !p.isClosed() && p.url().endsWith('/dashboard'))!
    const board = await dash.screenshot({ fullPage: true })
    writeFileSync(join(shots, 'dashboard.png'), board)
    assert.ok((await pngColours(browser, chat)) > 20, 'chat screenshot has colour variety')
    assert.ok((await pngColours(browser, board)) > 20, 'dashboard screenshot has colour variety')
    assert.deepEqual(problems, [])
  })
})
