// A line sent again must not show twice in a page. Without --data (memory history) a server restart
// starts a new log: a line the old server stored and sent to everyone, whose answer never reached its
// sender, is stored again when the sender re-sends it. Pages that showed it already show it once.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import type { MessageClient } from '../../src/messaging/index.ts'
import { type CliProcess, chatClient, killAll, wirekit } from '../cli/chat-process.ts'
import { browserBundle, launchChromium } from '../helpers/browser.ts'
import { freePort } from '../helpers/redis-server.ts'

// biome-ignore lint/suspicious/noExplicitAny: browser globals inside page.evaluate
declare const document: any

let browser: Browser
let tcp = 0
let http = 0
const servers: CliProcess[] = []
const clients: MessageClient[] = []

async function startServer(): Promise<CliProcess> {
  // Memory history: no --data.
  const server = wirekit(['serve', '--port', String(tcp), '--http', `127.0.0.1:${http}`])
  servers.push(server)
  await server.until(/wirekit websocket on/, 30_000)
  return server
}

before(async () => {
  browserBundle()
  tcp = await freePort()
  http = await freePort()
  browser = await launchChromium()
})

after(async () => {
  for (const c of clients) await c.close().catch(() => {})
  await browser?.close()
  await killAll(servers)
})

function texts(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll('ol.log li .text')].map((t: { textContent: string }) => t.textContent),
  )
}

async function until(
  page: Page,
  what: string,
  check: (t: string[]) => boolean,
  ms = 30_000,
): Promise<string[]> {
  const deadline = Date.now() + ms
  for (;;) {
    const t = await texts(page)
    if (check(t)) return t
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms; shown: ${JSON.stringify(t)}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

async function alice(): Promise<MessageClient> {
  const c = await chatClient(tcp, 'alice')
  clients.push(c)
  return c
}

test('without --data, a line stored, shown, then sent again after a server restart shows once in a page', {
  timeout: 120_000,
}, async () => {
  let server = await startServer()
  const bob = await browser.newPage()
  await bob.goto(`http://127.0.0.1:${http}/`)
  await bob.fill('#name', 'bob')
  await bob.press('#name', 'Enter')
  await bob.waitForSelector('#state.up')

  const line = { room: 'lobby', text: 'stored, answer lost', ref: 'alice-ref-1' }
  const first = await alice()
  await first.request('say', line, { timeout: 0 })
  await until(bob, 'the line', (t) => t.includes(line.text))

  // The server dies before alice's page heard the answer (here: alice never looks at it) and comes
  // back with an empty log.
  server.child.kill('SIGKILL')
  await server.exited
  await first.close()
  await bob.waitForSelector('#state.down')
  server = await startServer()
  await bob.waitForSelector('#state.up', { timeout: 30_000 })

  // Alice's page sends its unanswered line again; the new server stores it anew.
  const again = await alice()
  await again.request('say', line, { timeout: 0 })
  await again.request('say', { room: 'lobby', text: 'after the restart', ref: 'alice-ref-2' }, { timeout: 0 })
  const shown = await until(bob, 'the next line', (t) => t.includes('after the restart'))
  assert.equal(shown.filter((t) => t === line.text).length, 1, `shown once: ${JSON.stringify(shown)}`)
  await bob.close()
})

test('without --data, after a restart the page keeps what it showed above the new log, says so, and marks a line typed during the outage delivered', {
  timeout: 120_000,
}, async () => {
  const carol = await browser.newPage()
  await carol.goto(`http://127.0.0.1:${http}/`)
  await carol.fill('#name', 'carol')
  await carol.press('#name', 'Enter')
  await carol.waitForSelector('#state.up')
  await carol.fill('#line', 'before the kill')
  await carol.press('#line', 'Enter')
  await carol.waitForFunction(() =>
    [...document.querySelectorAll('.mark')].some(
      (m: { textContent: string }) => m.textContent === '✓ delivered',
    ),
  )
  const server = servers.at(-1)!
  server.child.kill('SIGKILL')
  await server.exited
  await carol.waitForSelector('#state.down')
  await carol.fill('#line', 'during the outage')
  await carol.press('#line', 'Enter')
  await startServer()
  await carol.waitForSelector('#state.up', { timeout: 30_000 })
  const items = () =>
    carol.evaluate(() =>
      [...document.querySelectorAll('ol.log:not([hidden]) li')].map(
        (li: { textContent: string }) => li.textContent,
      ),
    )
  const deadline = Date.now() + 30_000
  let shown: string[] = await items()
  while (!shown.some((t) => t.includes('during the outage✓ delivered')) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100))
    shown = await items()
  }
  const at = (text: string) => shown.findIndex((t) => t.includes(text))
  assert.ok(at('during the outage✓ delivered') >= 0, `delivered mark: ${JSON.stringify(shown)}`)
  assert.ok(
    at('before the kill') < at('starts again here'),
    `old lines above the notice: ${JSON.stringify(shown)}`,
  )
  assert.ok(
    at('starts again here') < at('during the outage'),
    `the new log below it: ${JSON.stringify(shown)}`,
  )
  await carol.close()
})
