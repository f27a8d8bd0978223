import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { MessageClient } from '../../src/messaging/index.ts'
import { type CliProcess, killAll, wirekit } from '../cli/chat-process.ts'
import { browserBundle, launchChromium } from '../helpers/browser.ts'
import { type RedisServer, startRedisServer } from '../helpers/redis-server.ts'

// The dashboard per node on Redis, in Chromium: two `wirekit serve --redis` processes on one
// redis-server; each node's dashboard lists both nodes and the totals, follows the figures of clients on
// the other node, and marks a SIGKILLed node gone within a few seconds.
// biome-ignore lint/suspicious/noExplicitAny: page globals, evaluated in Chromium
declare const document: any

let redis: RedisServer
let browser: Browser
const nodes: CliProcess[] = []
const clients: MessageClient[] = []
const problems: string[] = []

type Node = { process: CliProcess; tcp: string; dashboard: string }

async function startNode(): Promise<Node> {
  const child = wirekit([
    'serve',
    '--port',
    '0',
    '--redis',
    redis.url,
    '--http',
    'off',
    '--admin-http',
    '127.0.0.1:0',
  ])
  nodes.push(child)
  const dashboard = (await child.until(/wirekit dashboard on (http:\/\/\S+\/dashboard)/, 30_000))[1]!
  const tcp = /listening on (tcp:\/\/\S+)/.exec(child.out)![1]!
  return { process: child, tcp, dashboard }
}

before(async () => {
  browserBundle()
  redis = await startRedisServer()
  browser = await launchChromium()
})

after(async () => {
  for (const c of clients) await c.close().catch(() => {})
  await browser?.close()
  await killAll(nodes)
  await redis?.stop()
})

async function open(url: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1300, height: 800 } })
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text())
  })
  page.on('pageerror', (e) => problems.push(e.message))
  await page.goto(url)
  return page
}

/** The nodes table as { row: { figure: text } }, keyed 'self', 'other', 'total'. */
function table(page: Page): Promise<Record<string, Record<string, string>>> {
  return page.evaluate(() => {
    const out: Record<string, Record<string, string>> = {}
    for (const row of document.querySelectorAll('#node-rows tr')) {
      const key = row.classList.contains('total')
        ? 'total'
        : row.classList.contains('self')
          ? 'self'
          : 'other'
      const cells: Record<string, string> = { class: row.className }
      for (const cell of row.querySelectorAll('[data-figure]')) cells[cell.dataset.figure] = cell.textContent
      out[key] = cells
    }
    return out
  })
}

async function until(
  page: Page,
  what: string,
  check: (t: Record<string, Record<string, string>>) => boolean,
  ms = 20_000,
) {
  const deadline = Date.now() + ms
  for (;;) {
    const t = await table(page)
    if (check(t)) return t
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms; table: ${JSON.stringify(t)}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

test('each node’s dashboard shows every node and the totals; a killed node is marked gone within seconds', {
  timeout: 120_000,
}, async () => {
  const a = await startNode()
  const b = await startNode()
  const pageA = await open(a.dashboard)
  const pageB = await open(b.dashboard)
  for (const page of [pageA, pageB])
    await until(
      page,
      'both nodes and a total row',
      (t) => t.self !== undefined && t.other !== undefined && t.total !== undefined,
    )

  // Two chat clients on node B, one on node A, talking: A's dashboard shows B's figures move.
  const connect = async (url: string, name: string) => {
    const c = await MessageClient.connect(url, { credentials: { name } })
    clients.push(c)
    await c.request('join', 'lobby')
    return c
  }
  const carol = await connect(a.tcp, 'carol')
  const bob = await connect(b.tcp, 'bob')
  const dave = await connect(b.tcp, 'dave')
  await until(
    pageA,
    'B’s two TCP connections and the total of three',
    (t) => t.other?.tcp === '2' && t.self?.tcp === '1' && t.total?.tcp === '3' && t.total?.sessions === '3',
  )
  await until(pageB, 'the same from B: A has one', (t) => t.other?.tcp === '1' && t.self?.tcp === '2')
  const talking = (async () => {
    for (let i = 0; i < 60; i++) {
      await [bob, dave, carol][i % 3]!.emit('say', { room: 'lobby', text: `line ${i}` })
      await new Promise((r) => setTimeout(r, 50))
    }
  })()
  const moving = await until(
    pageA,
    'messages in per second on B and in the total',
    (t) => Number(t.other?.in) > 0 && Number(t.total?.in) >= Number(t.other?.in),
  )
  assert.equal(moving.total?.members, '3')
  assert.match(moving.total?.node ?? '', /2 live nodes/)
  await talking

  // Node B is killed: node A marks it gone (3.5 s of silence, sampled every second) and drops it from the totals.
  const killed = Date.now()
  b.process.child.kill('SIGKILL')
  await b.process.exited
  const gone = await until(
    pageA,
    'B marked gone',
    (t) => t.other?.class === 'gone' && t.total?.tcp === '1',
    15_000,
  )
  const seconds = (Date.now() - killed) / 1000
  assert.ok(seconds < 8, `B marked gone after ${seconds} s`)
  assert.match(gone.other?.node ?? '', /\(gone\)/)
  assert.match(gone.total?.node ?? '', /1 live node\b/)
  assert.deepEqual(
    problems.filter((p) => !/WebSocket connection/.test(p)),
    [],
  )
})
