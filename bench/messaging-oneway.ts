// Benchmark: one-way 64-byte messages over one connection, receiver here, sender in a child process.
// wirekit (JSON, sequence numbers and acks on) against socket.io, ws and hand-written raw `net`.
// Usage: node bench/messaging-oneway.ts [--quick] [--only <peer>] [--window N]  (1M messages; --quick: 100k)
import type { Socket } from 'node:net'
import os from 'node:os'
import {
  bestRuns,
  formatMs,
  formatPercent,
  formatRate,
  formatRatio,
  goalAtLeast,
  markdownTable,
  median,
  printSection,
} from './peers/format.ts'
import {
  CaseTimeout,
  flagValue,
  hardDeadline,
  nextMessage,
  nowNs,
  quick,
  repeatCount,
  runRounds,
  selected,
  startPeer,
  stopPeer,
  tell,
  watchPeer,
} from './peers/harness.ts'
import { RawFrameDecoder } from './peers/payload.ts'
import { startRaw, startSocketIo, startWs } from './peers/servers.ts'
import { startWirekitOnewayReceiver, WIREKIT_ONEWAY_WINDOW } from './peers/wirekit-peers.ts'

/** `--window N` overrides the wirekit sender's window of emits awaiting their ack. */
const WINDOW = Number(flagValue('--window') ?? WIREKIT_ONEWAY_WINDOW)
const REPEAT = repeatCount()
const COUNT = quick ? 100_000 : 1_000_000
const WARMUP = quick ? 10_000 : 50_000
/** Longest one peer may take before it is cut and reported as incomplete. */
const CASE_LIMIT_MS = quick ? 60_000 : 180_000
const DEADLINE_MS = quick ? 240_000 : 900_000

/** Counts arrivals in order; `hit(i)` for every received message index. */
class Counter {
  received = 0
  outOfOrder = 0
  readonly warmed: Promise<void>
  readonly done: Promise<number>
  #onWarm!: () => void
  #onDone!: (t: number) => void
  readonly #warmup: number
  readonly #total: number

  constructor(warmup: number, total: number) {
    this.#warmup = warmup
    this.#total = total
    this.warmed = new Promise((resolve) => (this.#onWarm = resolve))
    this.done = new Promise((resolve) => (this.#onDone = resolve))
  }

  hit(i: number): void {
    if (i !== this.received) this.outOfOrder++
    this.received++
    if (this.received === this.#warmup) this.#onWarm()
    if (this.received === this.#total) this.#onDone(nowNs())
  }
}

type Receiver = { port: number; close: () => Promise<void> }
type Case = { name: string; kind: string; start: (counter: Counter) => Promise<Receiver> }
type Result = { name: string; rate: number; ms: number; receiverCpu: number; senderCpu: number; note: string }

const cases: Case[] = [
  { name: 'wirekit', kind: 'wirekit', start: startWirekitOnewayReceiver },
  {
    name: 'socket.io (websocket)',
    kind: 'socket.io',
    start: async (counter) => {
      const running = await startSocketIo()
      running.server.on('connection', (socket) => {
        socket.on('m', (msg: { i: number }) => counter.hit(msg.i))
      })
      return running
    },
  },
  {
    name: 'ws',
    kind: 'ws',
    start: async (counter) => {
      const running = await startWs()
      running.server.on('connection', (ws) => {
        ws.on('message', (data: Buffer) => counter.hit(data.readUInt32LE(0)))
      })
      return running
    },
  },
  {
    name: 'raw net, one write per frame',
    kind: 'raw-single',
    start: (counter) => startRaw(rawReceiver(counter)),
  },
  {
    name: 'raw net, one write per frame, noDelay',
    kind: 'raw-single-nodelay',
    start: (counter) => startRaw(rawReceiver(counter)),
  },
  {
    name: 'raw net, batched writes (ceiling)',
    kind: 'raw-batched',
    start: (counter) => startRaw(rawReceiver(counter)),
  },
]

function rawReceiver(counter: Counter) {
  return (sock: Socket): void => {
    const decoder = new RawFrameDecoder((buf, start) => counter.hit(buf.readUInt32LE(start)))
    sock.on('data', (chunk: Buffer) => decoder.push(chunk))
  }
}

async function runCase(c: Case): Promise<Result> {
  const counter = new Counter(WARMUP, WARMUP + COUNT)
  const receiver = await c.start(counter)
  const child = startPeer('oneway-sender.ts', [
    c.kind,
    String(receiver.port),
    String(WARMUP),
    String(COUNT),
    String(WINDOW),
  ])
  const watch = watchPeer(child, CASE_LIMIT_MS)
  try {
    await Promise.race([counter.warmed, watch.failed])
    const started = nextMessage<{ type: string; t0: number }>(child, 'started', CASE_LIMIT_MS)
    const sent = nextMessage<{ type: string; cpu: number }>(child, 'sent', CASE_LIMIT_MS)
    const cpu0 = process.cpuUsage()
    tell(child, { type: 'go' })
    const { t0 } = await Promise.race([started, watch.failed])
    let t1: number | undefined
    let timedOut = false
    try {
      t1 = await Promise.race([counter.done, watch.failed])
    } catch (err) {
      if (!(err instanceof CaseTimeout)) throw err
      timedOut = true
    }
    const end = t1 ?? nowNs()
    const cpu = process.cpuUsage(cpu0)
    const ms = (end - t0) / 1e6
    const senderCpu = timedOut ? Number.NaN : (await Promise.race([sent, watch.failed])).cpu
    const measured = counter.received - WARMUP
    const notes: string[] = []
    if (timedOut) notes.push(`cut after ${formatMs(ms)}: ${measured} of ${COUNT} arrived`)
    if (counter.outOfOrder > 0) notes.push(`${counter.outOfOrder} out of order`)
    return {
      name: c.name,
      rate: measured / (ms / 1000),
      ms,
      receiverCpu: (cpu.user + cpu.system) / 1000 / ms,
      senderCpu,
      note: notes.join('; '),
    }
  } finally {
    watch.cancel()
    tell(child, { type: 'stop' })
    await stopPeer(child)
    await receiver.close()
  }
}

const runs = new Map<string, Result[]>()
const failures: string[] = []

function report(incomplete?: string): void {
  const best = bestRuns(runs, (r) => r.rate)
  const wirekit = best.get('wirekit')?.rate
  const goals: Record<string, number> = {
    'socket.io (websocket)': 7,
    ws: 7,
    'raw net, one write per frame': 1.5,
    'raw net, batched writes (ceiling)': 0.2,
  }
  const rows = [...best.values()].map((r) => [
    r.name,
    formatRate(r.rate),
    formatRate(median(runs.get(r.name)!.map((x) => x.rate))),
    formatMs(r.ms),
    r.name === 'wirekit' ? '1.00×' : formatRatio(wirekit, r.rate),
    goals[r.name] === undefined || wirekit === undefined ? '' : goalAtLeast(wirekit / r.rate, goals[r.name]!),
    formatPercent(r.receiverCpu),
    formatPercent(r.senderCpu),
    r.note,
  ])
  const lines = [
    '## Messaging: one-way 64-byte messages over one connection',
    '',
    `${COUNT.toLocaleString('en')} messages after ${WARMUP.toLocaleString('en')} warm-up, sender and receiver in two`,
    `processes on 127.0.0.1, Node ${process.version}, ${os.cpus().length} cores. Time runs from the sender's first`,
    'measured send to the arrival of the last message at the receiver (which checks every index is in order).',
    `wirekit sends JSON through \`client.emit\` with sequence numbers and cumulative acks on, keeping up to`,
    `${WINDOW} emits awaiting their ack, as a producer would (awaiting each ack in turn would`,
    'measure latency, not throughput). socket.io and ws senders check the socket write buffer every',
    '1024 messages and wait for drain above 1 MB; raw senders wait for drain when write() returns false.',
    'Raw one-write-per-frame runs with Node defaults (Nagle on, the faster of the two here, and the one the',
    'goal is set against) and with noDelay on, as ws, socket.io and latency-minded code use.',
    `Each peer runs ${REPEAT} time(s), round-robin; the table shows each peer's best run (ratios too).`,
    'CPU columns: share of one core each process used while measuring (near 100%: that side is the limit;',
    'GC and libuv threads can take it past 100%).',
    '',
    markdownTable(
      [
        'peer',
        `msgs/s (best of ${REPEAT})`,
        'median',
        'time',
        'wirekit / peer',
        'goal',
        'receiver CPU',
        'sender CPU',
        'notes',
      ],
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
