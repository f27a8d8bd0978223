// Benchmark: request/response with 64 requests in flight over one connection. The echo server runs
// here, the client in a child process. wirekit `client.request` against socket.io `emitWithAck` and
// a hand-written raw `net` client. Usage: node bench/messaging-reqres.ts [--quick] [--only <peer>]
import type net from 'node:net'
import os from 'node:os'
import {
  bestRuns,
  formatMs,
  formatRate,
  formatRatio,
  goalAtLeast,
  markdownTable,
  median,
  printSection,
} from './peers/format.ts'
import {
  hardDeadline,
  nextMessage,
  quick,
  repeatCount,
  runRounds,
  selected,
  startPeer,
  stopPeer,
  watchPeer,
} from './peers/harness.ts'
import { HEADER_BYTES, RawFrameDecoder } from './peers/payload.ts'
import { startRaw, startSocketIo } from './peers/servers.ts'
import { startWirekitEchoServer } from './peers/wirekit-peers.ts'

const IN_FLIGHT = 64
const REPEAT = repeatCount()
const COUNT = quick ? 30_000 : 200_000
const WARMUP = quick ? 5_000 : 20_000
const CASE_LIMIT_MS = quick ? 60_000 : 180_000
const DEADLINE_MS = quick ? 200_000 : 600_000

type Server = { port: number; close: () => Promise<void> }
type Case = { name: string; kind: string; start: () => Promise<Server> }
type Result = { name: string; perSecond: number; p50: number; p99: number }

// The raw echo server answers each request with one write of the same frame.
function rawEcho(sock: net.Socket): void {
  const decoder = new RawFrameDecoder((buf, start, end) => {
    sock.write(buf.subarray(start - HEADER_BYTES, end))
  })
  sock.on('data', (chunk: Buffer) => decoder.push(chunk))
}

const cases: Case[] = [
  { name: 'wirekit', kind: 'wirekit', start: startWirekitEchoServer },
  {
    name: 'socket.io emitWithAck (websocket)',
    kind: 'socket.io',
    start: async () => {
      const running = await startSocketIo()
      running.server.on('connection', (socket) => {
        socket.on('echo', (data: unknown, ack: (reply: unknown) => void) => ack(data))
      })
      return running
    },
  },
  { name: 'raw net, one write per request', kind: 'raw', start: () => startRaw(rawEcho) },
]

async function runCase(c: Case): Promise<Result> {
  const server = await c.start()
  const child = startPeer('reqres-client.ts', [
    c.kind,
    String(server.port),
    String(WARMUP),
    String(COUNT),
    String(IN_FLIGHT),
  ])
  const watch = watchPeer(child, CASE_LIMIT_MS)
  try {
    const result = await Promise.race([
      nextMessage<{ type: string; perSecond: number; p50: number; p99: number }>(
        child,
        'result',
        CASE_LIMIT_MS,
      ),
      watch.failed,
    ])
    return { name: c.name, perSecond: result.perSecond, p50: result.p50, p99: result.p99 }
  } finally {
    watch.cancel()
    await stopPeer(child)
    await server.close()
  }
}

const runs = new Map<string, Result[]>()
const failures: string[] = []

function report(incomplete?: string): void {
  // Latency from that same run.
  const best = bestRuns(runs, (r) => r.perSecond)
  const wirekit = best.get('wirekit')?.perSecond
  const goals: Record<string, number> = {
    'socket.io emitWithAck (websocket)': 3,
    'raw net, one write per request': 1.2,
  }
  const rows = [...best.values()].map((r) => [
    r.name,
    formatRate(r.perSecond),
    formatRate(median(runs.get(r.name)!.map((x) => x.perSecond))),
    formatMs(r.p50),
    formatMs(r.p99),
    r.name === 'wirekit' ? '1.00×' : formatRatio(wirekit, r.perSecond),
    goals[r.name] === undefined || wirekit === undefined
      ? ''
      : goalAtLeast(wirekit / r.perSecond, goals[r.name]!),
  ])
  const lines = [
    `## Messaging: request/response, ${IN_FLIGHT} in flight`,
    '',
    `${COUNT.toLocaleString('en')} requests after ${WARMUP.toLocaleString('en')} warm-up, echo of a 64-byte payload, client`,
    `and server in two processes on 127.0.0.1, Node ${process.version}, ${os.cpus().length} cores. Latency is per request,`,
    'from the call to its resolution, in the client. wirekit: `client.request` to a `server.handle` echo',
    '(JSON); socket.io: `emitWithAck` to an ack callback (JSON); raw: [u32 length][u32 id][payload],',
    'one `write()` per request and per response, noDelay on, replies matched by id.',
    `Each peer runs ${REPEAT} time(s), round-robin; the table shows each peer's best run (ratios too).`,
    '',
    markdownTable(
      ['peer', `req/s (best of ${REPEAT})`, 'median', 'p50', 'p99', 'wirekit / peer', 'goal'],
      rows,
    ),
  ]
  printSection(lines, failures, incomplete)
}

hardDeadline(DEADLINE_MS, report)
await runRounds(
  cases.filter((c) => selected(c.name)),
  REPEAT,
  runCase,
  runs,
  failures,
)
report()
process.exit(0)
