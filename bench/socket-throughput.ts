// Does AsyncSocket's promise-per-read API keep up with raw node:net? Two processes on loopback: this
// one receives and measures, a child (this same file with --sender) pushes bytes as fast as it can.
// Every AsyncSocket figure is compared with raw net receivers in the same round, rounds alternate the
// peers, and ratios are the median of the per-round ratios (load drift on a shared machine hits both).
// Usage: node bench/socket-throughput.ts [--quick] [--rounds N]
import { type ChildProcess, fork } from 'node:child_process'
import { once } from 'node:events'
import net from 'node:net'
import { AsyncServer, AsyncSocket } from '../src/socket/index.ts'
import { markdownTable } from './peers/format.ts'

const quick = process.argv.includes('--quick')
const MiB = 1024 * 1024
const RECORD = 65536
const SMALL = 64
const CHUNK = 65536

// ---------------------------------------------------------------------------------------------
// Sender (child process). Every 64-byte slot of its 64 KiB chunk starts with the slot's index, so
// receivers can check that no byte was lost or reordered.

type Job = { total: number; connect?: number }

function senderChunk(): Buffer {
  const chunk = Buffer.alloc(CHUNK)
  for (let i = 0; i < CHUNK; i += SMALL) chunk.writeUInt32LE(i / SMALL, i)
  return chunk
}

async function pump(socket: net.Socket, total: number, chunk: Buffer): Promise<void> {
  socket.on('error', () => {}) // the receiver may close as soon as it has counted the last byte
  let sent = 0
  while (sent < total && !socket.destroyed) {
    const n = Math.min(CHUNK, total - sent)
    sent += n
    if (!socket.write(n === CHUNK ? chunk : chunk.subarray(0, n))) await once(socket, 'drain')
  }
  socket.end()
}

/** Listens; each job from the parent is served to the next connection (or sent to `connect`). */
async function runSender(): Promise<void> {
  const chunk = senderChunk()
  const jobs: Job[] = []
  const server = net.createServer((socket) => pump(socket, jobs.shift()!.total, chunk))
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  process.on('message', (job: Job | 'exit') => {
    if (job === 'exit') {
      server.close()
      process.disconnect()
      return
    }
    if (job.connect === undefined) {
      jobs.push(job)
      process.send!('ready')
      return
    }
    const socket = net.connect({ host: '127.0.0.1', port: job.connect, noDelay: true })
    socket.once('connect', () => pump(socket, job.total, chunk))
  })
  process.send!({ port: (server.address() as net.AddressInfo).port })
}

// ---------------------------------------------------------------------------------------------
// Receivers. Each resolves with the seconds from its first byte (or record) to its last.

type Receiver = {
  name: string
  /** What this receiver does with the bytes, printed under the table. */
  does: string
  run: (sender: Sender, total: number) => Promise<number>
}

const now = (): number => performance.now() / 1000

function mismatch(what: string): never {
  throw new Error(`bytes lost or reordered: ${what}`)
}

/** Raw receivers over net.connect, fed by 'data' events. */
function rawReceiver(
  name: string,
  does: string,
  onData: (total: number, done: () => void) => (chunk: Buffer) => void,
): Receiver {
  return {
    name,
    does,
    run: async (sender, total) => {
      const port = await sender.serve(total)
      const socket = net.connect({ host: '127.0.0.1', port, noDelay: true })
      let start = 0
      let end = 0
      const finished = new Promise<void>((resolve, reject) => {
        socket.once('error', reject)
        const handle = onData(total, () => {
          end = now()
          resolve()
        })
        socket.on('data', (chunk: Buffer) => {
          if (start === 0) start = now()
          handle(chunk)
        })
      })
      await finished
      socket.destroy()
      return end - start
    },
  }
}

/** Raw bulk: counts the bytes of each 'data' event; never forms records. */
const rawCount = rawReceiver(
  "raw 'data' events, count bytes",
  'adds up chunk lengths (does not form 64 KiB records)',
  (total, done) => {
    let received = 0
    return (chunk) => {
      received += chunk.length
      if (received >= total) done()
    }
  },
)

/** Raw bulk: hand-written 64 KiB records: a view when inside one chunk, one copy when spanning two. */
const rawRecords = rawReceiver(
  "raw 'data' events, 64 KiB records",
  'hand-written framing: a view when a record sits in one chunk, else copies it into a new buffer',
  (total, done) => {
    let received = 0
    let partial: Buffer | undefined
    let filled = 0
    return (chunk) => {
      let offset = 0
      while (offset < chunk.length) {
        let record: Buffer | undefined
        if (partial === undefined && chunk.length - offset >= RECORD) {
          record = chunk.subarray(offset, offset + RECORD)
          offset += RECORD
        } else {
          partial ??= Buffer.allocUnsafe(RECORD)
          const n = Math.min(RECORD - filled, chunk.length - offset)
          chunk.copy(partial, filled, offset, offset + n)
          filled += n
          offset += n
          if (filled < RECORD) break
          record = partial
          partial = undefined
          filled = 0
        }
        if (record.readUInt32LE(RECORD - SMALL) !== RECORD / SMALL - 1) mismatch('64 KiB record')
        received += RECORD
        if (received >= total) return done()
      }
    }
  },
)

/** Raw small: hand-written synchronous 64-byte slicer; copies only a record split between chunks. */
const rawSlicer = rawReceiver(
  'raw net, synchronous 64 B slicer',
  'hand-written: slices records out of each chunk in a loop, no promise; copies only a split record',
  (total, done) => {
    const records = total / SMALL
    let seen = 0
    const carry = Buffer.allocUnsafe(SMALL)
    let carried = 0
    const check = (record: Buffer): boolean => {
      if (record.readUInt32LE(0) !== seen % (CHUNK / SMALL)) mismatch(`record ${seen}`)
      if (++seen < records) return false
      done()
      return true
    }
    return (chunk) => {
      let offset = 0
      if (carried > 0) {
        offset = Math.min(SMALL - carried, chunk.length)
        chunk.copy(carry, carried, 0, offset)
        carried += offset
        if (carried < SMALL) return
        carried = 0
        if (check(carry)) return
      }
      for (; offset + SMALL <= chunk.length; offset += SMALL) {
        if (check(chunk.subarray(offset, offset + SMALL))) return
      }
      carried = chunk.copy(carry, 0, offset)
    }
  },
)

/**
 * Raw small, awaiting each record: the least a hand-written promise API over 'data' events does (a
 * resolved promise per buffered record, a waiting one otherwise). Shows what one await costs.
 */
const rawAwait: Receiver = {
  name: 'raw net, hand-written await per record',
  does: 'hand-written minimal promise reader over the same slicer: one await per 64 B record',
  run: async (sender, total) => {
    const port = await sender.serve(total)
    const socket = net.connect({ host: '127.0.0.1', port, noDelay: true })
    socket.once('error', () => {})
    let chunk: Buffer = Buffer.alloc(0)
    let offset = 0
    let wake: (() => void) | undefined
    socket.on('data', (data: Buffer) => {
      chunk = offset < chunk.length ? Buffer.concat([chunk.subarray(offset), data]) : data
      offset = 0
      wake?.()
    })
    const next = (): Promise<Buffer> => {
      if (chunk.length - offset >= SMALL) {
        const record = chunk.subarray(offset, offset + SMALL)
        offset += SMALL
        return Promise.resolve(record)
      }
      return new Promise<void>((resolve) => {
        wake = resolve
      }).then(() => {
        wake = undefined
        return next()
      })
    }
    // Its own copy of the timing loop: a loop shared with the AsyncSocket receivers would see two
    // different read functions and be optimised for neither.
    const records = total / SMALL
    let start = 0
    for (let i = 0; i < records; i++) {
      const record = await next()
      if (i === 0) start = now()
      if (record.readUInt32LE(0) !== i % (CHUNK / SMALL)) mismatch(`record ${i}`)
    }
    const seconds = now() - start
    socket.destroy()
    return seconds
  },
}

/** AsyncSocket: await read({ length: 64 }) per record. */
async function timeRecords(socket: AsyncSocket, records: number): Promise<number> {
  let start = 0
  for (let i = 0; i < records; i++) {
    const record = await socket.read({ length: SMALL })
    if (i === 0) start = now()
    if (record.readUInt32LE(0) !== i % (CHUNK / SMALL)) mismatch(`record ${i}`)
  }
  const seconds = now() - start
  socket.destroy()
  return seconds
}

async function timeBulk(socket: AsyncSocket, total: number): Promise<number> {
  let received = 0
  let start = 0
  while (received < total) {
    const record = await socket.read({ length: RECORD })
    if (received === 0) start = now()
    if (record.readUInt32LE(RECORD - SMALL) !== RECORD / SMALL - 1) mismatch('64 KiB record')
    received += record.length
  }
  const seconds = now() - start
  socket.destroy()
  return seconds
}

/** AsyncSocket.connect: the socket reads through net's `onread` into buffers it chooses. */
function connected(name: string, does: string, small: boolean): Receiver {
  return {
    name,
    does,
    run: async (sender, total) => {
      const port = await sender.serve(total)
      const socket = await AsyncSocket.connect({ host: '127.0.0.1', port })
      if (!small) return timeBulk(socket, total)
      return timeRecords(socket, total / SMALL)
    },
  }
}

/** A socket accepted by AsyncServer (moved to a socket with `onread` on accept, see src/socket/server.ts). */
function accepted(name: string, does: string, small: boolean): Receiver {
  return {
    name,
    does,
    run: async (sender, total) => {
      let result!: Promise<number>
      const server = await AsyncServer.listen({ port: 0 }, (socket) => {
        result = small ? timeRecords(socket, total / SMALL) : timeBulk(socket, total)
        return result
      })
      const connection = once(server, 'connection')
      sender.connect(server.port, total)
      await connection
      try {
        return await result
      } finally {
        await server.close()
      }
    },
  }
}

// ---------------------------------------------------------------------------------------------
// Parent: rounds, medians, the table.

class Sender {
  readonly #child: ChildProcess
  readonly #port: number

  private constructor(child: ChildProcess, port: number) {
    this.#child = child
    this.#port = port
  }

  static async start(): Promise<Sender> {
    const child = fork(new URL(import.meta.url).pathname, ['--sender'], { stdio: 'inherit' })
    const [message] = (await once(child, 'message')) as [{ port: number }]
    return new Sender(child, message.port)
  }

  /** Queues a job for the next connection to the sender's port; resolves with that port. */
  async serve(total: number): Promise<number> {
    const ready = once(this.#child, 'message')
    this.#child.send({ total })
    await ready
    return this.#port
  }

  connect(port: number, total: number): void {
    this.#child.send({ total, connect: port })
  }

  async stop(): Promise<void> {
    const exited = once(this.#child, 'exit')
    this.#child.send('exit')
    await exited
  }
}

type Case = {
  title: string
  unit: string
  total: number
  /** Units (MiB, million records) in `total`. */
  units: number
  /** Receiver CPU is shown as (µs per unit) × factor, under this label. */
  cpuPer: { factor: number; label: string }
  peers: Receiver[]
}

/** One timed run: throughput, and the receiving process's CPU time (user + system) per unit. */
type Sample = { rate: number; cpu: number }

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

async function sample(c: Case, peer: Receiver, sender: Sender): Promise<Sample> {
  const before = process.cpuUsage()
  const seconds = await peer.run(sender, c.total)
  const { user, system } = process.cpuUsage(before)
  return { rate: c.units / seconds, cpu: ((user + system) / c.units) * c.cpuPer.factor }
}

/** The Markdown table of one case: medians, ranges, paired ratios against the two raw peers. */
function table(c: Case, samples: Sample[][]): string {
  const digits = c.unit === 'MiB/s' ? 0 : 2
  const fixed = (value: number): string => value.toFixed(digits)
  const pairedRatio = (j: number, k: number): string =>
    median(samples[j]!.map((s, r) => s.rate / samples[k]![r]!.rate)).toFixed(2)
  const rows = c.peers.map((peer, j) => {
    const rates = samples[j]!.map((s) => s.rate)
    return [
      peer.name,
      `${fixed(median(rates))} ${c.unit}`,
      `${fixed(Math.min(...rates))}–${fixed(Math.max(...rates))}`,
      pairedRatio(j, 0),
      j === 0 ? '' : pairedRatio(j, 1),
      median(samples[j]!.map((s) => s.cpu)).toFixed(0),
      peer.does,
    ]
  })
  return markdownTable(
    [
      'receiver',
      'median',
      'range',
      `÷ ${c.peers[0]!.name}`,
      `÷ ${c.peers[1]!.name}`,
      `receiver CPU ${c.cpuPer.label}`,
      'what it does',
    ],
    rows,
  )
}

async function main(): Promise<void> {
  const roundsFlag = process.argv.indexOf('--rounds')
  const rounds = roundsFlag > 0 ? Number(process.argv[roundsFlag + 1]) : quick ? 3 : 5
  const bulkBytes = quick ? 256 * MiB : 1024 * MiB
  const records = 1_000_000
  const cases: Case[] = [
    {
      title: `bulk ${bulkBytes / MiB} MiB, 64 KiB records`,
      unit: 'MiB/s',
      total: bulkBytes,
      units: bulkBytes / MiB,
      cpuPer: { factor: 1, label: 'µs per MiB' },
      peers: [
        rawCount,
        rawRecords,
        connected(
          'AsyncSocket.connect, read({ length: 65536 })',
          'await read({ length: 65536 }) in a loop',
          false,
        ),
        accepted('AsyncServer socket, read({ length: 65536 })', 'the same on an accepted socket', false),
      ],
    },
    {
      title: `${records.toLocaleString('en')} records of 64 B`,
      unit: 'M records/s',
      total: records * SMALL,
      units: records / 1e6,
      // µs per million records = ps per record: ÷ 1000 gives ns per record.
      cpuPer: { factor: 1 / 1000, label: 'ns per record' },
      peers: [
        rawSlicer,
        rawAwait,
        connected('AsyncSocket.connect, read({ length: 64 })', 'await read({ length: 64 }) per record', true),
        accepted('AsyncServer socket, read({ length: 64 })', 'the same on an accepted socket', true),
      ],
    },
  ]
  const sender = await Sender.start()
  const samples = cases.map((c) => c.peers.map(() => [] as Sample[]))
  try {
    // Warm-up (not measured): lets the JIT compile every receiver before the first timed round.
    for (const c of cases) for (const peer of c.peers) await peer.run(sender, Math.min(c.total, 32 * MiB))
    for (let round = 0; round < rounds; round++) {
      for (const [i, c] of cases.entries()) {
        // Alternate the order each round so drift in machine load hits every peer alike.
        const order = c.peers.map((_, j) => j)
        if (round % 2 === 1) order.reverse()
        for (const j of order) samples[i]![j]!.push(await sample(c, c.peers[j]!, sender))
      }
    }
  } finally {
    await sender.stop()
  }
  const lines = [
    '## Socket throughput: AsyncSocket vs raw node:net (loopback, sender in a child process)',
    '',
    `${quick ? 'Quick run' : 'Full run'}: median of ${rounds} rounds after a warm-up, Node ${process.version}. ` +
      'The sender writes 64 KiB chunks as fast as the receiver takes them; every receiver checks ' +
      'that no byte is lost or reordered. Ratios are medians of per-round ratios (peers of a round ' +
      "run back to back, so load drift hits them alike). Receiver CPU is the receiving process's " +
      'user + system time: less load-sensitive than throughput when the sender is the bottleneck.',
    '',
  ]
  for (const [i, c] of cases.entries()) lines.push(`### ${c.title}`, '', table(c, samples[i]!), '')
  lines.push(
    "Goals (issue 2): bulk AsyncSocket ≥ 0.95× raw 'data' events; 64 B AsyncSocket ≥ 0.80× the raw slicer.",
    '',
  )
  process.stdout.write(`${lines.join('\n')}\n`)
}

if (process.argv.includes('--sender')) await runSender()
else await main()
