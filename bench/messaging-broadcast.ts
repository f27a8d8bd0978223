// Benchmark: one 64-byte broadcast to N connections, time until the last client has it. The server
// runs here, N clients in a child process; both read the same system-wide monotonic clock.
// wirekit `server.emit` / `to(room).emit` against socket.io `io.emit` / `io.to(room).emit`, and the
// floor: raw `net`, one write per socket. Usage: node bench/messaging-broadcast.ts [--quick] [--only wirekit|socket.io|raw]
import type { ChildProcess } from 'node:child_process'
import os from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { formatMs, formatRatio, goalAtLeast, markdownTable, median, printSection } from './peers/format.ts'
import {
  attempt,
  fdLimits,
  hardDeadline,
  nextMessage,
  nowNs,
  quick,
  selected,
  startPeer,
  stopPeer,
  tell,
  watchPeer,
} from './peers/harness.ts'
import { jsonMessage } from './peers/payload.ts'
import { startRaw, startSocketIo } from './peers/servers.ts'
import { startWirekitBroadcastServer } from './peers/wirekit-peers.ts'

const WANTED = quick ? 2_000 : 10_000
const FD_RESERVE = 200
const ROUNDS = quick ? 3 : 7
const WARMUP_ROUNDS = quick ? 1 : 3
/** Pause between rounds, so acknowledgements of the last round are not measured in the next. */
const PAUSE_MS = 300
const CASE_LIMIT_MS = quick ? 90_000 : 240_000
const DEADLINE_MS = quick ? 300_000 : 900_000

// The server holds its connections in this process and the clients in theirs: both are bound by
// the descriptor limit (Node raises its soft limit to the hard one at start-up; the lower counts).
const limits = fdLimits()
const fdCap = Math.min(limits.hard, limits.soft)
const COUNT = Math.min(WANTED, Math.floor(fdCap) - FD_RESERVE)

type Broadcaster = {
  port: number
  connections: () => number
  variants: { name: string; emit: (data: unknown) => void }[]
  close: () => Promise<void>
}
type Group = { kind: string; start: () => Promise<Broadcaster> }
type Result = {
  name: string
  median: number
  best: number
  first: number
  emitCall: number
  serverBusy: number
  clientsBusy: number
  rounds: number
}

const groups: Group[] = [
  {
    kind: 'wirekit',
    start: async () => {
      const s = await startWirekitBroadcastServer()
      return {
        port: s.port,
        connections: s.connections,
        close: s.close,
        variants: [
          { name: 'wirekit server.emit', emit: s.emitAll },
          { name: 'wirekit server.to(room).emit', emit: s.emitRoom },
        ],
      }
    },
  },
  {
    kind: 'socket.io',
    start: async () => {
      const running = await startSocketIo()
      const io = running.server
      io.on('connection', (socket) => socket.join('room'))
      return {
        port: running.port,
        connections: () => io.engine.clientsCount,
        close: running.close,
        variants: [
          { name: 'socket.io io.emit', emit: (data) => io.emit('b', data) },
          { name: 'socket.io io.to(room).emit', emit: (data) => io.to('room').emit('b', data) },
        ],
      }
    },
  },
  {
    // The floor on this machine: one JSON.stringify, one length-prefixed buffer, one write() per
    // socket, no sequence numbers or acks; the clients parse by hand.
    kind: 'raw',
    start: async () => {
      const sockets = new Set<import('node:net').Socket>()
      const running = await startRaw((sock) => {
        sockets.add(sock)
        sock.once('close', () => sockets.delete(sock))
      })
      const emit = (data: unknown): void => {
        const json = Buffer.from(JSON.stringify(data), 'latin1')
        const frame = Buffer.allocUnsafe(4 + json.length)
        frame.writeUInt32BE(json.length, 0)
        json.copy(frame, 4)
        for (const sock of sockets) sock.write(frame)
      }
      return {
        port: running.port,
        connections: () => sockets.size,
        close: running.close,
        variants: [{ name: 'raw net, one write per socket', emit }],
      }
    },
  },
]

let round = 0

type Round = { total: number; first: number; emitCall: number; serverBusy: number; clientsBusy: number }

// One broadcast: arm the clients for a new round number, emit, wait until the last one has it.
async function oneRound(clients: ChildProcess, emit: (data: unknown) => void): Promise<Round> {
  round++
  const armed = nextMessage(clients, 'armed', 10_000)
  tell(clients, { type: 'arm', round })
  await armed
  const all = nextMessage<{ type: string; first: number; t1: number; busy: number }>(clients, 'all', 60_000)
  const elu = performance.eventLoopUtilization()
  const t0 = nowNs()
  emit(jsonMessage(round))
  const emitCall = (nowNs() - t0) / 1e6
  const { first, t1, busy } = await all
  // Includes the server reading the clients' acks (wirekit) while the broadcast is still arriving.
  const serverBusy = performance.eventLoopUtilization(elu).active
  return { total: (t1 - t0) / 1e6, first: (first - t0) / 1e6, emitCall, serverBusy, clientsBusy: busy }
}

async function runGroup(g: Group): Promise<Result[]> {
  const server = await g.start()
  const clients = startPeer('many-clients.ts', [g.kind, String(server.port), String(COUNT)])
  const watch = watchPeer(clients, CASE_LIMIT_MS)
  try {
    await Promise.race([nextMessage(clients, 'connected', CASE_LIMIT_MS), watch.failed])
    for (let i = 0; i < 100 && server.connections() < COUNT; i++) await sleep(100)
    if (server.connections() < COUNT) throw new Error(`server holds ${server.connections()} of ${COUNT}`)
    const results: Result[] = []
    for (const variant of server.variants) {
      // Warm-up: the first rounds of every peer run while V8 still compiles its send path.
      for (let w = 0; w < WARMUP_ROUNDS; w++) {
        await Promise.race([oneRound(clients, variant.emit), watch.failed])
        await sleep(PAUSE_MS)
      }
      const rounds: Round[] = []
      for (let r = 0; r < ROUNDS; r++) {
        await sleep(PAUSE_MS)
        rounds.push(await Promise.race([oneRound(clients, variant.emit), watch.failed]))
      }
      const totals = rounds.map((r) => r.total)
      results.push({
        name: variant.name,
        median: median(totals),
        best: Math.min(...totals),
        first: median(rounds.map((r) => r.first)),
        emitCall: median(rounds.map((r) => r.emitCall)),
        serverBusy: median(rounds.map((r) => r.serverBusy)),
        clientsBusy: median(rounds.map((r) => r.clientsBusy)),
        rounds: rounds.length,
      })
    }
    return results
  } finally {
    watch.cancel()
    await stopPeer(clients)
    await server.close()
  }
}

const results: Result[] = []
const failures: string[] = []

function report(incomplete?: string): void {
  const peerOf = (name: string): string | undefined =>
    ({
      'socket.io io.emit': 'wirekit server.emit',
      'socket.io io.to(room).emit': 'wirekit server.to(room).emit',
      'raw net, one write per socket': 'wirekit server.emit',
    })[name]
  const rows = results.map((r) => {
    const wk = results.find((w) => w.name === peerOf(r.name))
    return [
      r.name,
      formatMs(r.median),
      formatMs(r.best),
      formatMs(r.first),
      formatMs(r.emitCall),
      formatMs(r.serverBusy),
      formatMs(r.clientsBusy),
      String(r.rounds),
      wk ? formatRatio(r.median, wk.median) : r.name.startsWith('wirekit') ? '1.00×' : 'n/a',
      r.name.startsWith('socket.io') ? goalAtLeast(wk ? r.median / wk.median : undefined, 3) : '',
    ]
  })
  const scaled =
    COUNT < WANTED
      ? ` (wanted ${WANTED}: this process may open ${fdCap} descriptors; raise \`ulimit -n\`)`
      : ''
  const lines = [
    `## Messaging: one broadcast to ${COUNT.toLocaleString('en')} connections`,
    '',
    `One 64-byte JSON message to ${COUNT.toLocaleString('en')} clients${scaled}: time from the server's emit`,
    `to the last client's receipt. Server in this process, all clients in one child process (so client-side`,
    `parsing is part of the time), median of ${ROUNDS} rounds after ${WARMUP_ROUNDS} warm-up round(s), ${PAUSE_MS} ms apart.`,
    `Node ${process.version}, ${os.cpus().length} cores. wirekit's push is reliable (sequenced, acknowledged).`,
    '"first received" is when the first client had it, "emit() call" how long the call itself blocked',
    'the server, "server busy" / "clients busy" the event-loop time each process spent until the last',
    'receipt (medians): they show where the total goes (one process per side, 2 cores).',
    '"raw net" is the floor for any library: a hand-built length-prefixed frame, one `write()` per socket,',
    'no sequence numbers or acks; every connection costs the server one send system call whatever the',
    'library does, so no library can be much faster than this row on the same machine.',
    '',
    markdownTable(
      [
        'broadcast',
        'all received (median)',
        'best',
        'first received',
        'emit() call',
        'server busy',
        'clients busy',
        'rounds',
        'peer time / wirekit time',
        'goal',
      ],
      rows,
    ),
  ]
  printSection(lines, failures, incomplete)
}

hardDeadline(DEADLINE_MS, report)
for (const g of groups.filter((g) => selected(g.kind))) {
  const result = await attempt(g.kind, () => runGroup(g))
  if (result instanceof Error) failures.push(`${g.kind}: ${result.message}`)
  else results.push(...result)
}
report()
process.exit(0)
