// Does AsyncSocket's promise-per-read API keep up with raw node:net? Two processes on loopback: this
// one receives and measures, a child (this same file with --sender) pushes bytes as fast as it can.
// Cases, each against its raw peer in the same run: bulk bytes through read({ length: 65536 }) vs
// net 'data' events, and 64-byte records through read({ length: 64 }) vs a hand-written net slicer.
// Usage: node bench/socket-throughput.ts [--quick]
import { fork } from 'node:child_process'
import { once } from 'node:events'
import net from 'node:net'
import { AsyncServer, type AsyncSocket } from '../src/socket/index.ts'

const quick = process.argv.includes('--quick')
const MiB = 1024 * 1024

/** Child: connects to the port given, writes `total` bytes in `chunk`-sized writes, then ends. */
async function runSender(): Promise<void> {
  const [port, total, chunkSize] = process.argv.slice(3, 6).map(Number) as [number, number, number]
  const socket = net.connect({ host: '127.0.0.1', port, noDelay: true })
  // The receiver may close as soon as it has counted the last byte.
  socket.on('error', () => {})
  await once(socket, 'connect')
  // Record i carries i in its first bytes, so a receiver that loses or reorders bytes is caught.
  const chunk = Buffer.alloc(chunkSize)
  for (let i = 0; i < chunkSize; i += 64) chunk.writeUInt32LE(i / 64, i)
  let sent = 0
  while (sent < total) {
    const n = Math.min(chunkSize, total - sent)
    sent += n
    if (!socket.write(n === chunkSize ? chunk : chunk.subarray(0, n))) await once(socket, 'drain')
  }
  socket.end()
  await once(socket, 'close')
}

/** Starts a sender for `total` bytes and returns the seconds from the first byte to the last. */
async function measure(
  listen: (onDone: (seconds: number) => void) => Promise<{ port: number; close: () => Promise<void> }>,
  total: number,
  chunk: number,
): Promise<number> {
  let done!: (seconds: number) => void
  const finished = new Promise<number>((resolve) => {
    done = resolve
  })
  const { port, close } = await listen(done)
  const child = fork(
    new URL(import.meta.url).pathname,
    ['--sender', String(port), String(total), String(chunk)],
    {
      stdio: 'inherit',
    },
  )
  const timer = setTimeout(() => child.kill('SIGKILL'), 300_000)
  try {
    const failed = once(child, 'exit').then(([code]) => {
      throw new Error(`sender exited with ${code} before the receiver finished`)
    })
    const seconds = await Promise.race([finished, failed.then(() => 0)])
    failed.catch(() => {})
    return seconds
  } finally {
    clearTimeout(timer)
    if (child.exitCode === null) await once(child, 'exit')
    await close()
  }
}

function rawListen(onSocket: (socket: net.Socket, done: (seconds: number) => void) => void) {
  return async (done: (seconds: number) => void) => {
    const server = net.createServer((socket) => {
      socket.on('error', () => {})
      onSocket(socket, (seconds) => {
        socket.destroy()
        done(seconds)
      })
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    return {
      port: (server.address() as net.AddressInfo).port,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    }
  }
}

function asyncListen(onSocket: (socket: AsyncSocket) => Promise<number>) {
  return async (done: (seconds: number) => void) => {
    const server = await AsyncServer.listen({ port: 0 }, async (socket) => {
      done(await onSocket(socket))
      socket.destroy()
    })
    return { port: server.port, close: () => server.close() }
  }
}

const now = (): number => performance.now() / 1000

/** Raw bulk: count bytes in 'data' events. */
function rawBulk(total: number) {
  return rawListen((socket, done) => {
    let received = 0
    let start = 0
    socket.on('data', (chunk: Buffer) => {
      if (received === 0) start = now()
      received += chunk.length
      if (received >= total) done(now() - start)
    })
  })
}

/** AsyncSocket bulk: read({ length: 65536 }) in a loop. */
function asyncBulk(total: number) {
  return asyncListen(async (socket) => {
    let received = 0
    let start = 0
    while (received < total) {
      const data = await socket.read({ length: Math.min(65536, total - received) })
      if (received === 0) start = now()
      received += data.length
    }
    return now() - start
  })
}

/** Raw slicer: hand-written 64-byte records out of 'data' events, carrying a partial record over. */
function rawSmall(records: number) {
  return rawListen((socket, done) => {
    let seen = 0
    let start = 0
    let carry: Buffer | undefined
    let check = 0
    socket.on('data', (chunk: Buffer) => {
      if (seen === 0 && carry === undefined) start = now()
      let data = chunk
      if (carry) {
        data = Buffer.concat([carry, chunk])
        carry = undefined
      }
      let offset = 0
      while (data.length - offset >= 64) {
        const record = data.subarray(offset, offset + 64)
        check += record[0]!
        offset += 64
        if (++seen === records) {
          if (check < 0) throw new Error('unreachable')
          done(now() - start)
          return
        }
      }
      if (offset < data.length) carry = data.subarray(offset)
    })
  })
}

/** AsyncSocket: read({ length: 64 }) per record. */
function asyncSmall(records: number) {
  return asyncListen(async (socket) => {
    let start = 0
    let check = 0
    for (let i = 0; i < records; i++) {
      const record = await socket.read({ length: 64 })
      if (i === 0) start = now()
      check += record[0]!
    }
    if (check < 0) throw new Error('unreachable')
    return now() - start
  })
}

async function main(): Promise<void> {
  const bulkBytes = quick ? 128 * MiB : 1024 * MiB
  const records = quick ? 200_000 : 1_000_000
  const rounds = quick ? 1 : 3
  const results = {
    rawBulk: [] as number[],
    asyncBulk: [] as number[],
    rawSmall: [] as number[],
    asyncSmall: [] as number[],
  }
  // Alternate the peers each round so drift in machine load hits both alike.
  for (let round = 0; round < rounds; round++) {
    results.rawBulk.push(bulkBytes / (await measure(rawBulk(bulkBytes), bulkBytes, 65536)))
    results.asyncBulk.push(bulkBytes / (await measure(asyncBulk(bulkBytes), bulkBytes, 65536)))
    results.asyncSmall.push(records / (await measure(asyncSmall(records), records * 64, 65536)))
    results.rawSmall.push(records / (await measure(rawSmall(records), records * 64, 65536)))
  }
  const best = (values: number[]): number => Math.max(...values)
  const rb = best(results.rawBulk)
  const ab = best(results.asyncBulk)
  const rs = best(results.rawSmall)
  const as = best(results.asyncSmall)
  const lines = [
    '## Socket throughput: AsyncSocket vs raw node:net (loopback, sender in a child process)',
    '',
    `${quick ? 'Quick run' : 'Full run'}: ${bulkBytes / MiB} MiB bulk, ${records.toLocaleString('en')} records of 64 B; best of ${rounds} round(s), Node ${process.version}.`,
    '',
    '| case | raw net | AsyncSocket | ratio (goal) |',
    '| --- | --- | --- | --- |',
    `| bulk, read({ length: 65536 }) vs 'data' events | ${(rb / MiB).toFixed(0)} MiB/s | ${(ab / MiB).toFixed(0)} MiB/s | ${(ab / rb).toFixed(2)}× (≥ 0.95×) |`,
    `| 64 B records, read({ length: 64 }) vs hand slicer | ${(rs / 1e6).toFixed(2)} M/s | ${(as / 1e6).toFixed(2)} M/s | ${(as / rs).toFixed(2)}× (≥ 0.80×) |`,
    '',
  ]
  process.stdout.write(`${lines.join('\n')}\n`)
}

if (process.argv.includes('--sender')) await runSender()
else await main()
