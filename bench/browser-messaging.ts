// Benchmark: messaging from and to one Chromium page, 64-byte JSON messages one way at a time.
// wirekit's browser bundle (dist/browser/client.js, exactly-once: sequence numbers and acks on)
// against socket.io-client's own ESM browser bundle (websocket transport only, at-most-once) and, as a
// reference, the platform WebSocket with one send per message and no protocol. All three are loaded
// by the same page and measured in the same run; the servers run in this process. Also weighs both
// bundles (min+gzip) in the same run.
// Usage: node bench/browser-messaging.ts [--quick] [--only wirekit|socket.io|WebSocket] [--repeat N] [--deadline <s>]
import { readFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'
import { type Socket, Server as SocketIoServer } from 'socket.io'
import { WebSocketServer, type WebSocket as WsSocket } from 'ws'
import { MessageServer, type Peer } from '../src/messaging/index.ts'
import { browserBundle } from '../test/helpers/browser.ts'
import {
  PagePilot,
  type RunningChromium,
  StepTimeout,
  startChromium,
  withLimit,
} from './peers/chromium-page.ts'
import {
  formatBytes,
  formatMs,
  formatRate,
  formatRatio,
  goalAtLeast,
  markdownTable,
  median,
  printSection,
} from './peers/format.ts'
import { attempt, hardDeadline, quick, repeatCount, selected } from './peers/harness.ts'
import { jsonMessage } from './peers/payload.ts'

process.chdir(fileURLToPath(new URL('..', import.meta.url)))

const COUNT = quick ? 20_000 : 100_000
const REPEAT = repeatCount()
/** Emits awaiting their ack at once on either wirekit side: a producer's window, as in bench/messaging-oneway.ts. */
const WINDOW = 4096
/** The other senders look at the WebSocket's buffered bytes every BURST messages and wait above HIGH_WATER. */
const BURST = 1024
const HIGH_WATER = 1 << 20
/** Messages per WebSocket message in the batched reference: what one send per message costs in a browser. */
const BATCH = 64
const STEP_LIMIT_MS = quick ? 60_000 : 120_000
const DEADLINE_MS = quick ? 5 * 60_000 : 15 * 60_000
const SOCKET_IO_BUNDLE = 'node_modules/socket.io-client/dist/socket.io.esm.min.js'

type PeerName = 'wirekit' | 'wirekit, batch: false' | 'socket.io' | 'WebSocket' | 'WebSocket batched'
type Direction = 'page→server' | 'server→page'
/** Throughput, and the CPU time Chromium (all its processes) and this process spent per message. */
type Run = {
  rate: number
  ms: number
  chromiumUs: number
  serverUs: number
  /** The page's WebSocket.send calls per message, and its main-thread time inside them per message. */
  pageSends: number
  pageSendUs: number
}
type Step =
  | { type: 'connect'; peer: PeerName; url: string }
  | {
      type: 'send'
      peer: PeerName
      n: number
      window: number
      burst: number
      highWater: number
      batch: number
    }
  | { type: 'expect'; n: number }
  | { type: 'await' }
  | { type: 'stats' }
  | { type: 'close'; peer: PeerName }
  | { type: 'done' }

/** Wall-clock milliseconds with sub-millisecond precision, comparable with the page's own reading. */
const wallNow = (): number => performance.timeOrigin + performance.now()

/** Counts the arrivals of one stream at a server and checks every index comes once, in order. */
class Arrivals {
  next = 0
  lastAt = 0
  #target = 0
  #done: (() => void) | undefined
  #fail: ((error: Error) => void) | undefined
  expect(n: number): Promise<void> {
    this.next = 0
    this.#target = n
    return new Promise((resolve, reject) => {
      this.#done = resolve
      this.#fail = reject
    })
  }
  hit(i: number): void {
    if (i !== this.next) this.#fail?.(new Error(`message ${i} arrived where ${this.next} was due`))
    this.next++
    if (this.next === this.#target) {
      this.lastAt = wallNow()
      this.#done?.()
    }
  }
}

// ── the page's HTTP server and its pilot ───────────────────────────────────────────────────────

const bundle = browserBundle()
const socketIoBundle = readFileSync(SOCKET_IO_BUNDLE)
const pageScript = await build({
  entryPoints: ['bench/peers/browser-page.ts'],
  bundle: true,
  write: false,
  format: 'esm',
  platform: 'browser',
  target: ['es2022'],
  logLevel: 'warning',
})
const PAGE =
  '<!doctype html><title>wirekit browser benchmark</title><script type="module" src="/page.js"></script>'
const pilot = new PagePilot<Step>(STEP_LIMIT_MS)
let userAgent = ''
const scripts = new Map<string, string | Buffer>([
  ['/wirekit-client.js', bundle],
  ['/socket.io.esm.min.js', socketIoBundle],
  ['/page.js', pageScript.outputFiles[0]!.text],
])

const web = http.createServer((req, res) => {
  const script = scripts.get(req.url ?? '')
  if (script !== undefined) {
    res.writeHead(200, { 'content-type': 'text/javascript' })
    res.end(script)
  } else if (!pilot.handle(req, res)) {
    res.writeHead(200, { 'content-type': 'text/html' })
    res.end(PAGE)
  }
})

// ── servers ────────────────────────────────────────────────────────────────────────────────────

const fromPage = new Arrivals()
const wirekit = new MessageServer({ peerBuffer: { maxMessages: 50_000 } })
let wirekitPeer: Peer | undefined
wirekit.on('connection', (peer: Peer) => {
  wirekitPeer = peer
  peer.on('m', (msg: { i: number }) => fromPage.hit(msg.i))
})
wirekit.attach(web, { path: '/ws' })
await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve))
const webPort = (web.address() as AddressInfo).port

const ioHttp = http.createServer()
const io = new SocketIoServer(ioHttp, {
  transports: ['websocket'],
  serveClient: false,
  perMessageDeflate: false,
})
let ioSocket: Socket | undefined
io.on('connection', (socket) => {
  ioSocket = socket
  socket.on('m', (msg: { i: number }) => fromPage.hit(msg.i))
})
await new Promise<void>((resolve) => ioHttp.listen(0, '127.0.0.1', resolve))
const ioPort = (ioHttp.address() as AddressInfo).port

const rawHttp = http.createServer()
const raw = new WebSocketServer({ server: rawHttp, perMessageDeflate: false })
let rawSocket: WsSocket | undefined
raw.on('connection', (ws) => {
  rawSocket = ws
  ws.on('message', (data) => {
    const parsed = JSON.parse(String(data)) as { i: number } | { i: number }[]
    if (Array.isArray(parsed)) for (const msg of parsed) fromPage.hit(msg.i)
    else fromPage.hit(parsed.i)
  })
})
await new Promise<void>((resolve) => rawHttp.listen(0, '127.0.0.1', resolve))
const rawPort = (rawHttp.address() as AddressInfo).port

/** wirekit server → page: peer.emit with at most WINDOW emits awaiting their ack, refilled by halves. */
async function wirekitPush(peer: Peer, n: number): Promise<void> {
  let inFlight = 0
  let wake: (() => void) | undefined
  let failure: unknown
  const settled = (): void => {
    inFlight--
    if (wake && inFlight <= WINDOW / 2) {
      wake()
      wake = undefined
    }
  }
  for (let i = 0; i < n; i++) {
    if (inFlight >= WINDOW) await new Promise<void>((resolve) => (wake = resolve))
    if (failure) throw failure
    inFlight++
    peer.emit('m', jsonMessage(i)).then(settled, (error: unknown) => {
      failure ??= error
      settled()
    })
  }
}

/** Sends with `emit`, and every BURST messages waits while the WebSocket holds more than HIGH_WATER. */
async function burstPush(ws: { bufferedAmount: number } | undefined, n: number, emit: (i: number) => void) {
  for (let i = 0; i < n; i++) {
    emit(i)
    if (i % BURST === BURST - 1) {
      await new Promise((resolve) => setImmediate(resolve))
      while (ws !== undefined && ws.bufferedAmount > HIGH_WATER) await new Promise((r) => setTimeout(r, 1))
    }
  }
}

type PeerSide = {
  url: string
  connected: () => boolean
  reset: () => void
  push: (n: number) => Promise<void>
}
const sides: Record<PeerName, PeerSide> = {
  wirekit: {
    url: `ws://127.0.0.1:${webPort}/ws`,
    connected: () => wirekitPeer !== undefined,
    reset: () => (wirekitPeer = undefined),
    push: (n) => wirekitPush(wirekitPeer!, n),
  },
  'wirekit, batch: false': {
    url: `ws://127.0.0.1:${webPort}/ws`,
    connected: () => wirekitPeer !== undefined,
    reset: () => (wirekitPeer = undefined),
    push: (n) => wirekitPush(wirekitPeer!, n),
  },
  'socket.io': {
    url: `http://127.0.0.1:${ioPort}`,
    connected: () => ioSocket !== undefined,
    reset: () => (ioSocket = undefined),
    push: (n) => {
      const socket = ioSocket!
      // engine.io's WebSocket transport keeps the ws socket here; its buffered bytes are the backlog.
      const ws = (socket.conn.transport as unknown as { socket?: { bufferedAmount: number } }).socket
      return burstPush(ws, n, (i) => socket.emit('m', jsonMessage(i)))
    },
  },
  WebSocket: {
    url: `ws://127.0.0.1:${rawPort}`,
    connected: () => rawSocket !== undefined,
    reset: () => (rawSocket = undefined),
    push: (n) => {
      const ws = rawSocket!
      return burstPush(ws, n, (i) => ws.send(JSON.stringify(jsonMessage(i))))
    },
  },
  'WebSocket batched': {
    url: `ws://127.0.0.1:${rawPort}`,
    connected: () => rawSocket !== undefined,
    reset: () => (rawSocket = undefined),
    push: async (n) => {
      const ws = rawSocket!
      const batches = Math.ceil(n / BATCH)
      await burstPush(ws, batches, (b) => {
        const batch = []
        for (let i = b * BATCH; i < Math.min(n, (b + 1) * BATCH); i++) batch.push(jsonMessage(i))
        ws.send(JSON.stringify(batch))
      })
    },
  },
}

/** CPU time, in ms, of all Chromium's processes and of this (server) process. */
function cpuNow(): { chromium: number; server: number } {
  const own = process.cpuUsage()
  return { chromium: chromium?.cpuMs() ?? 0, server: (own.user + own.system) / 1000 }
}

async function finish(ms: number, before: { chromium: number; server: number }): Promise<Run> {
  const after = cpuNow()
  const sends = (await pilot.step({ type: 'stats' })) as { sendCalls: number; sendMs: number }
  return {
    pageSends: sends.sendCalls / COUNT,
    pageSendUs: (sends.sendMs * 1000) / COUNT,
    rate: (COUNT / ms) * 1000,
    ms,
    chromiumUs: ((after.chromium - before.chromium) * 1000) / COUNT,
    serverUs: ((after.server - before.server) * 1000) / COUNT,
  }
}

async function pageToServer(peer: PeerName): Promise<Run> {
  const before = cpuNow()
  const arrived = fromPage.expect(COUNT)
  arrived.catch(() => {})
  const sent = await pilot.step({
    type: 'send',
    peer,
    n: COUNT,
    window: WINDOW,
    burst: BURST,
    highWater: HIGH_WATER,
    batch: BATCH,
  })
  await withLimit(arrived, 'page→server arrivals', STEP_LIMIT_MS)
  const ms = fromPage.lastAt - (sent.started as number)
  return finish(ms, before)
}

async function serverToPage(peer: PeerName): Promise<Run> {
  await pilot.step({ type: 'expect', n: COUNT })
  const before = cpuNow()
  const started = wallNow()
  await sides[peer].push(COUNT)
  const { lastAt, bad } = (await pilot.step({ type: 'await' })) as { lastAt: number; bad: string }
  if (bad !== '') throw new Error(bad)
  const ms = lastAt - started
  return finish(ms, before)
}

// ── run ────────────────────────────────────────────────────────────────────────────────────────

const names = (Object.keys(sides) as PeerName[]).filter((name) => selected(name))
const directions: Direction[] = ['page→server', 'server→page']
const runs = new Map<string, Run[]>()
const failures: string[] = []
const key = (name: PeerName, direction: Direction) => `${name} ${direction}`
const gz = (bytes: string | Buffer) => gzipSync(bytes, { level: 9 }).length
const sizes = {
  wirekit: gz(bundle),
  socketIo: gz(socketIoBundle),
  wirekitMin: Buffer.byteLength(bundle),
  socketIoMin: socketIoBundle.length,
}
const LABELS: Record<PeerName, string> = {
  wirekit: 'wirekit (browser bundle)',
  'wirekit, batch: false': 'wirekit, `batch: false` (one envelope per WebSocket message)',
  'socket.io': 'socket.io-client (ESM bundle)',
  WebSocket: 'platform WebSocket + ws, no protocol (reference)',
  'WebSocket batched': `the same, ${BATCH} messages per WebSocket message (reference)`,
}

/** Median CPU cost per message over the runs: steadier under load than the rate. */
function cpuCell(list: Run[], of: (r: Run) => number): string {
  return median(list.map(of)).toFixed(1)
}

function report(incomplete?: string): void {
  const best = (k: string) => Math.max(...(runs.get(k) ?? []).map((r) => r.rate))
  const rows: string[][] = []
  for (const direction of directions) {
    const ours = best(key('wirekit', direction))
    for (const name of names) {
      const list = runs.get(key(name, direction)) ?? []
      if (list.length === 0) continue
      const fastest = list.reduce((a, b) => (b.rate > a.rate ? b : a))
      rows.push([
        direction,
        LABELS[name],
        formatRate(fastest.rate),
        formatRate(median(list.map((r) => r.rate))),
        formatMs(fastest.ms),
        name === 'wirekit' ? '1.00×' : formatRatio(ours, fastest.rate),
        cpuCell(list, (r) => r.chromiumUs),
        cpuCell(list, (r) => r.serverUs),
        `${median(list.map((r) => r.pageSends)).toFixed(2)}, ${cpuCell(list, (r) => r.pageSendUs)}`,
        name === 'socket.io' ? goalAtLeast(ours / fastest.rate, 3) : '',
      ])
    }
  }
  const chrome = /(?:Headless)?Chrome\/[\d.]+/.exec(userAgent)?.[0] ?? 'Chromium'
  const lines = [
    '## Messaging in Chromium: one page, one-way 64 B messages',
    '',
    `${COUNT.toLocaleString('en')} messages per run and direction, one page in Debian's Chromium (${chrome}), started`,
    'directly with no DevTools session (DevTools reports every WebSocket frame, which would be measured too);',
    'the page fetches its steps from the benchmark over HTTP. Servers in this process on 127.0.0.1,',
    `Node ${process.version}, ${os.cpus().length} cores. wirekit: \`dist/browser/client.js\`, \`client.emit\` / \`peer.emit\``,
    `(JSON, sequence numbers and cumulative acks on, exactly-once), ${WINDOW} emits awaiting their ack at`,
    'once on the sending side; the envelopes of one turn share a WebSocket message (batch envelopes, agreed in',
    'the handshake), and a second wirekit row turns that off (`batch: false`: one envelope per WebSocket message).',
    "socket.io: socket.io-client's own `dist/socket.io.esm.min.js` and a socket.io",
    'server, websocket transport only, at-most-once. Reference: the platform WebSocket and a `ws` server, one',
    `text message per 64 B JSON message, no protocol. socket.io and reference senders check the WebSocket's`,
    `buffered bytes every ${BURST} messages and wait above ${formatBytes(HIGH_WATER)}. The batched reference packs ${BATCH}`,
    'messages (a JSON array) into each WebSocket message: the gap to it is what one WebSocket message per',
    'message costs in this browser. Time runs from the first send to the',
    "last arrival (page and server read the same machine's wall clock); the receiver checks every index",
    `arrives once, in order. Each peer runs ${REPEAT} time(s) per direction, round-robin; best run shown`,
    '(ratios too), median beside it. CPU columns: medians of CPU time per message while measuring, of all',
    "Chromium's processes together and of this (server) process; less sensitive to other load than rates.",
    "Page send(): the page's WebSocket.send calls per message (acks included) and its main-thread time inside",
    'them per message (the page wraps WebSocket.prototype.send to count and time them).',
    '',
    markdownTable(
      [
        'direction',
        'client',
        'msgs/s (best)',
        'median',
        'time (best)',
        'wirekit / peer',
        'Chromium CPU µs/msg',
        'server CPU µs/msg',
        'page send() calls, µs /msg',
        'goal',
      ],
      rows,
    ),
    '',
    'Bundle size, both gzipped at level 9 in this run:',
    '',
    markdownTable(
      ['bundle', 'minified', 'min+gzip', 'vs socket.io-client', 'goal'],
      [
        [
          'wirekit `dist/browser/client.js`',
          formatBytes(sizes.wirekitMin),
          formatBytes(sizes.wirekit),
          formatRatio(sizes.wirekit, sizes.socketIo),
          `≤ 12 KB: ${sizes.wirekit <= 12 * 1024 ? 'met' : 'not met'}`,
        ],
        [
          'socket.io-client `dist/socket.io.esm.min.js`',
          formatBytes(sizes.socketIoMin),
          formatBytes(sizes.socketIo),
          '1.00×',
          '',
        ],
      ],
    ),
  ]
  printSection(lines, failures, incomplete)
}

async function measure(): Promise<void> {
  for (let round = 0; round < REPEAT; round++) {
    for (const name of names) {
      const side = sides[name]
      side.reset()
      await pilot.step({ type: 'connect', peer: name, url: side.url })
      const deadline = Date.now() + 5000
      while (!side.connected() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5))
      if (!side.connected()) throw new Error(`${name}: the page connected but the server saw no connection`)
      for (const direction of directions) {
        const result = await attempt(`${name} ${direction}`, () =>
          direction === 'page→server' ? pageToServer(name) : serverToPage(name),
        )
        if (result instanceof StepTimeout) throw result
        if (result instanceof Error) {
          const line = `${name} ${direction}: ${result.message}`
          if (!failures.includes(line)) failures.push(line)
        } else runs.set(key(name, direction), [...(runs.get(key(name, direction)) ?? []), result])
      }
      await pilot.step({ type: 'close', peer: name })
    }
  }
  pilot.finish({ type: 'done' })
}

let chromium: RunningChromium | undefined
hardDeadline(DEADLINE_MS, (reason) => {
  chromium?.stop()
  report(reason)
})
process.once('exit', () => chromium?.stop())
chromium = startChromium(`http://127.0.0.1:${webPort}/`)
let incomplete: string | undefined
try {
  userAgent = await withLimit(pilot.hello, 'the page did not load', STEP_LIMIT_MS)
  await measure()
} catch (error) {
  incomplete = error instanceof Error ? error.message : String(error)
}
report(incomplete)
chromium.stop()
process.exit(0)
