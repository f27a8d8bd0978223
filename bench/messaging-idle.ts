// Benchmark: memory per idle connection, heartbeats on. Each server kind runs alone in a child
// process (--expose-gc) and N clients in another; the server's heap, external memory and RSS are
// measured before and after, divided by N. Usage: node bench/messaging-idle.ts [--quick] [--only <peer>]
import type { ChildProcess } from 'node:child_process'
import os from 'node:os'
import { formatBytes, formatRatio, markdownTable, printSection } from './peers/format.ts'
import {
  attempt,
  fdLimits,
  hardDeadline,
  nextMessage,
  quick,
  selected,
  startPeer,
  stopPeer,
  tell,
  watchPeer,
} from './peers/harness.ts'

const WANTED = quick ? 2_000 : 10_000
/** Descriptors each process keeps for itself besides the connections. */
const FD_RESERVE = 200
const HEARTBEAT = quick ? { interval: 2_000, timeout: 2_000 } : { interval: 5_000, timeout: 5_000 }
/** Idle time after the last client connected: more than one heartbeat round. */
const IDLE_MS = Math.round(HEARTBEAT.interval * 1.2)
const CASE_LIMIT_MS = quick ? 90_000 : 240_000
const DEADLINE_MS = quick ? 300_000 : 900_000

const limits = fdLimits()
const COUNT = Math.min(WANTED, Math.floor(limits.hard) - FD_RESERVE)

type Kind = { name: string; kind: string }
const WIREKIT_WS = 'wirekit MessageServer, ws:// clients'
type Result = {
  name: string
  connections: number
  heap: number
  external: number
  rss: number
  connectMs: number
  drops: number
}

const kinds: Kind[] = [
  { name: 'wirekit MessageServer', kind: 'wirekit' },
  { name: WIREKIT_WS, kind: 'wirekit-ws' },
  { name: 'socket.io (websocket)', kind: 'socket.io' },
  { name: 'ws (+ ping loop)', kind: 'ws' },
]

type Measured = { type: string; connections: number; heap: number; external: number; rss: number }

async function runCase(k: Kind): Promise<Result> {
  const server = startPeer(
    'idle-server.ts',
    [k.kind, String(HEARTBEAT.interval), String(HEARTBEAT.timeout)],
    ['--expose-gc'],
  )
  const watchServer = watchPeer(server, CASE_LIMIT_MS)
  let clients: ChildProcess | undefined
  try {
    const { port } = await Promise.race([
      nextMessage<{ type: string; port: number }>(server, 'ready', 30_000),
      watchServer.failed,
    ])
    clients = startPeer('many-clients.ts', [k.kind, String(port), String(COUNT)])
    const watchClients = watchPeer(clients, CASE_LIMIT_MS)
    try {
      const connected = await Promise.race([
        nextMessage<{ type: string; ms: number }>(clients, 'connected', CASE_LIMIT_MS),
        watchServer.failed,
        watchClients.failed,
      ])
      const measured = nextMessage<Measured>(server, 'measured', CASE_LIMIT_MS)
      tell(server, { type: 'measure', count: COUNT, idleMs: IDLE_MS, waitMs: 30_000 })
      const m = await Promise.race([measured, watchServer.failed, watchClients.failed])
      const status = nextMessage<{ type: string; drops: number }>(clients, 'status', 10_000)
      tell(clients, { type: 'status' })
      const { drops } = await status
      const n = Math.max(1, m.connections)
      return {
        name: k.name,
        connections: m.connections,
        heap: m.heap / n,
        external: m.external / n,
        rss: m.rss / n,
        connectMs: connected.ms,
        drops,
      }
    } finally {
      watchClients.cancel()
    }
  } finally {
    watchServer.cancel()
    if (clients) await stopPeer(clients)
    await stopPeer(server)
  }
}

/**
 * wirekit's rows carry the absolute goal; each peer's row the "wirekit below it" goal, judged for the
 * wirekit row over the same transport when there is one (socket.io and ws are WebSocket servers).
 */
function goalCell(r: Result, wirekitHeap: number | undefined): string {
  if (r.name.startsWith('wirekit')) return `≤ 4 KB heap: ${r.heap <= 4096 ? 'met' : 'not met'}`
  if (wirekitHeap === undefined) return 'wirekit below'
  return `wirekit below: ${wirekitHeap < r.heap ? 'met' : 'not met'}`
}

const isWirekitWs = (r: Result) => r.name === WIREKIT_WS

const results: Result[] = []
const failures: string[] = []

function report(incomplete?: string): void {
  const wirekitTcp = results.find((r) => r.name.startsWith('wirekit') && !isWirekitWs(r))?.heap
  const wirekitWs = results.find(isWirekitWs)?.heap
  const rows = results.map((r) => [
    r.name,
    String(r.connections),
    formatBytes(r.heap),
    formatBytes(r.external),
    formatBytes(r.rss),
    formatRatio(r.heap, wirekitTcp),
    formatRatio(r.heap, wirekitWs),
    `${(r.connectMs / 1000).toFixed(1)} s`,
    goalCell(r, wirekitWs ?? wirekitTcp),
    r.drops > 0 ? `${r.drops} connections dropped while idle` : '',
  ])
  const scaled = COUNT < WANTED ? ` (wanted ${WANTED}: the descriptor hard limit here is ${limits.hard})` : ''
  const lines = [
    `## Messaging: memory per idle connection (${COUNT.toLocaleString('en')} connections)`,
    '',
    `${COUNT.toLocaleString('en')} idle connections${scaled}, heartbeat every ${HEARTBEAT.interval} ms (timeout`,
    `${HEARTBEAT.timeout} ms), held ${IDLE_MS} ms after the last connected. Server alone in a child process`,
    `with --expose-gc, clients in another; figures are the server's (after - before) / connections,`,
    `after full GCs. Node ${process.version}, ${os.cpus().length} cores. Goal: wirekit ≤ 4 KB heap per`,
    'connection and below socket.io and ws (judged against wirekit with ws:// clients, the same transport as',
    'theirs, when that row ran). "external" is Buffer and other off-heap memory V8 tracks.',
    '',
    markdownTable(
      [
        'server',
        'connections',
        'heap / conn',
        'external / conn',
        'RSS / conn',
        'heap / wirekit tcp:// heap',
        'heap / wirekit ws:// heap',
        'connect all',
        'goal',
        'notes',
      ],
      rows,
    ),
  ]
  printSection(lines, failures, incomplete)
}

hardDeadline(DEADLINE_MS, report)
for (const k of kinds.filter((k) => selected(k.name))) {
  const result = await attempt(k.name, () => runCase(k))
  if (result instanceof Error) failures.push(`${k.name}: ${result.message}`)
  else results.push(result)
}
report()
process.exit(0)
