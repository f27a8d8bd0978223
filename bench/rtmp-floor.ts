// Benchmark: the floor under any Node.js fan-out server. A process that does nothing but write the
// same prebuilt frame (15 KB video + 200 B audio every 40 ms, the bench/rtmp-fanout.ts stream) to N
// loopback sockets with net.Socket.write: no protocol, no parsing, no per-player work. Its CPU per
// delivered megabit, user and system apart, is the least a Node server spends to deliver that stream
// to N players, so it bounds what an RTMP server's own code can win against another Node server.
// Modes: 'per message' (two writes per player per frame, what node-media-server does), 'per frame'
// (one joined write, what RtmpServer does), 'cork' (two writes inside cork/uncork: one writev), and
// 'per frame, AsyncSocket' (one write through wirekit's AsyncSocket, as RtmpServer writes: its cost
// over 'per frame' is what the socket layer adds per write), and 'per frame, AsyncSocket send' (the same
// through send(), the write with no promise, which RtmpServer uses since sockwrite).
// Usage: node bench/rtmp-floor.ts [--players N] [--rounds N]
import { type ChildProcess, fork } from 'node:child_process'
import { once } from 'node:events'
import net from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { AsyncServer, type AsyncSocket } from '../src/socket/index.ts'
import { markdownTable, quantile } from './peers/format.ts'

const arg = (flag: string) =>
  process.argv.includes(flag) ? process.argv[process.argv.indexOf(flag) + 1] : undefined
const role = arg('--role')
const PLAYERS = Number(arg('--players')) || 100
const ROUNDS = Number(arg('--rounds')) || 3
const WARMUP_MS = 1500
const MEASURE_MS = 4000
const FRAME_MS = 40
const MODES = [
  'per message',
  'per frame',
  'cork',
  'per frame, AsyncSocket',
  'per frame, AsyncSocket send',
] as const
type Mode = (typeof MODES)[number]

const noop = () => {}

async function writer(mode: Mode): Promise<void> {
  const video = Buffer.alloc(15_000, 0x27)
  const audio = Buffer.alloc(200, 0xaf)
  const joined = Buffer.concat([video, audio])
  if (mode === 'per frame, AsyncSocket' || mode === 'per frame, AsyncSocket send') {
    const sockets: AsyncSocket[] = []
    const server = await AsyncServer.listen({ port: 0, host: '127.0.0.1' }, (socket) => {
      sockets.push(socket)
    })
    process.send!({ port: server.port })
    setInterval(() => {
      if (mode === 'per frame, AsyncSocket send') for (const socket of sockets) socket.send(joined)
      else for (const socket of sockets) socket.write(joined).catch(noop)
    }, FRAME_MS)
  } else {
    const sockets: net.Socket[] = []
    const server = net.createServer((socket) => {
      socket.on('error', noop)
      sockets.push(socket)
    })
    server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as net.AddressInfo).port }))
    setInterval(() => rawWrites(sockets, mode, video, audio, joined), FRAME_MS)
  }
  process.on('message', () => {
    const { user, system } = process.cpuUsage()
    process.send!({ user: user / 1000, system: system / 1000 })
  })
}

function rawWrites(sockets: net.Socket[], mode: Mode, video: Buffer, audio: Buffer, joined: Buffer): void {
  for (const socket of sockets) {
    if (mode === 'per frame') socket.write(joined)
    else if (mode === 'cork') {
      socket.cork()
      socket.write(video)
      socket.write(audio)
      socket.uncork()
    } else {
      socket.write(video)
      socket.write(audio)
    }
  }
}

async function readers(port: number): Promise<void> {
  let bytes = 0
  for (let i = 0; i < PLAYERS; i++) {
    const socket = net.connect(port, '127.0.0.1')
    socket.on('data', (chunk) => {
      bytes += chunk.length
    })
    socket.on('error', () => {})
  }
  process.on('message', () => process.send!({ bytes }))
}

const self = fileURLToPath(import.meta.url)
const ask = <T>(child: ChildProcess): Promise<T> => {
  child.send({})
  return once(child, 'message').then(([m]) => m as T)
}

type Cpu = { user: number; system: number }
type Result = { user: number; system: number; total: number }

async function round(mode: Mode): Promise<Result> {
  const server = fork(self, ['--role', 'writer', '--mode', mode], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  })
  const [{ port }] = (await once(server, 'message')) as [{ port: number }]
  const reader = fork(self, ['--role', 'readers', '--port', String(port), '--players', String(PLAYERS)], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  })
  try {
    await sleep(WARMUP_MS)
    const [c0, b0] = [await ask<Cpu>(server), await ask<{ bytes: number }>(reader)]
    await sleep(MEASURE_MS)
    const [c1, b1] = [await ask<Cpu>(server), await ask<{ bytes: number }>(reader)]
    const megabits = ((b1.bytes - b0.bytes) * 8) / 1e6
    const user = (c1.user - c0.user) / megabits
    const system = (c1.system - c0.system) / megabits
    return { user, system, total: user + system }
  } finally {
    server.kill('SIGKILL')
    reader.kill('SIGKILL')
  }
}

async function main(): Promise<void> {
  const results = new Map<Mode, Result[]>(MODES.map((m) => [m, []]))
  for (let r = 0; r < ROUNDS; r++)
    for (const mode of r % 2 === 0 ? MODES : [...MODES].reverse()) results.get(mode)!.push(await round(mode))
  const median = (values: number[]) =>
    quantile(
      [...values].sort((a, b) => a - b),
      0.5,
    )
  const rows = MODES.map((mode) => {
    const list = results.get(mode)!
    return [
      mode,
      median(list.map((x) => x.user)).toFixed(3),
      median(list.map((x) => x.system)).toFixed(3),
      median(list.map((x) => x.total)).toFixed(3),
    ]
  })
  process.stdout.write(
    `${[
      `## Floor: ${PLAYERS} loopback sockets, the same 15 KB + 200 B frame written every 40 ms (writes only: no protocol)`,
      '',
      markdownTable(['writes', 'user ms / Mbit', 'system ms / Mbit', 'CPU ms / Mbit'], rows),
      '',
      `Rounds: ${ROUNDS} (medians, alternating order); CPU is the writer's process.cpuUsage() (all threads).`,
    ].join('\n')}\n`,
  )
}

if (role === 'writer') await writer(arg('--mode') as Mode)
else if (role === 'readers') await readers(Number(arg('--port')))
else await main()
