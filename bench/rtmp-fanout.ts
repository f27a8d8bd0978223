// Benchmark: RTMP fan-out. One ~3 Mbps publish (25 fps, a keyframe every 2 s, AAC beside it), N RTMP
// players and N HTTP-FLV players on loopback. Measured on the server process alone: CPU time per
// megabit delivered to players, RSS per player; and the added latency publish → player (each video
// frame carries its send time). wirekit's RtmpServer against node-media-server 4.x, in the same run,
// with the same publisher and players (wirekit's RtmpClient, node:http for HTTP-FLV) in other processes.
// Under that load, a new RTMP player joins now and then: the time from connect to its first tag says
// whether the server still serves newcomers when it is busy (it should not starve them).
// Usage: node bench/rtmp-fanout.ts [--quick] [--rounds N] [--baseline DIR] [--floor] [--players N] [--seconds S]
// (rounds alternate the servers; medians reported. --baseline: a copy of the repo at an older commit,
// whose RtmpServer runs as a third contender, "wirekit before": a same-run before/after. --floor: the
// floor under any server (bench/peers/flv-floor.ts: the stream's frames written to 2N HTTP-FLV players,
// no protocol work) as one more contender.)
import { type ChildProcess, fork, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { FlvReader, RtmpClient, type RtmpPublisher, RtmpServer } from '../src/rtmp/index.ts'
import { formatRatio, markdownTable, quantile } from './peers/format.ts'
import { AAC_CONFIG, AVC_CONFIG, audioFrame, FPS, videoFrame, wallNow } from './peers/rtmp-stream.ts'

const quick = process.argv.includes('--quick')
const role = process.argv[process.argv.indexOf('--role') + 1]
const option = (flag: string) =>
  process.argv.includes(flag) ? Number(process.argv[process.argv.indexOf(flag) + 1]) : undefined
// --players N (of each kind) and --seconds S (measured) for a latency run at a scale the machine carries.
const PLAYERS = option('--players') ?? (quick ? 50 : 200) // of each kind
const WARMUP_MS = quick ? 1500 : 3000
const MEASURE_MS = (option('--seconds') ?? 0) * 1000 || (quick ? 4000 : 10_000)
const ROUNDS = Number(process.argv[process.argv.indexOf('--rounds') + 1]) || 1
const JOIN_PROBES = 5
const FLOOR = process.argv.includes('--floor')
const BASELINE = process.argv.includes('--baseline')
  ? join(process.argv[process.argv.indexOf('--baseline') + 1]!, 'bench', 'rtmp-fanout.ts')
  : undefined
const DEADLINE_MS = (quick ? 60_000 : 150_000) * ROUNDS * (2 + (BASELINE ? 1 : 0) + (FLOOR ? 1 : 0))

// ---- roles run in child processes ------------------------------------------------------------

async function wirekitServer(): Promise<void> {
  const server = new RtmpServer()
  const rtmp = await server.listen({ port: 0 })
  const flv = await server.listenHttpFlv({ port: 0 })
  // Sessions that ended on an error, by code: a READ_TIMEOUT here is a handshake the server let starve.
  const errors: Record<string, number> = {}
  server.on('sessionError', (e) => {
    errors[e.code] = (errors[e.code] ?? 0) + 1
  })
  process.send!({ type: 'ready', rtmp: rtmp.port, http: flv.port })
  // How long a ready event waits for the server's loop: its share of a player's latency, busy or not.
  // Only when asked (WIREKIT_BENCH_LOOP_DELAY=1): its 1 ms timer wakes the server 1000 times a second,
  // which node-media-server does not pay (at 1-10 players that was most of our CPU per megabit).
  const delay = process.env.WIREKIT_BENCH_LOOP_DELAY ? monitorEventLoopDelay({ resolution: 1 }) : undefined
  delay?.enable()
  process.on('message', () => {
    const ms = (ns: number) => (ns / 1e6).toFixed(1)
    if (delay)
      process.stderr.write(
        `rtmp-fanout: wirekit server event-loop delay p50 ${ms(delay.percentile(50))} ms, p99 ${ms(delay.percentile(99))} ms, max ${ms(delay.max)} ms\n`,
      )
    if (Object.keys(errors).length > 0)
      process.stderr.write(`rtmp-fanout: wirekit server session errors: ${JSON.stringify(errors)}\n`)
    process.exit(0)
  })
}

type PlayerReport = {
  type: 'report'
  bytes: number
  connected: number
  /** The players' process CPU (user + system) so far, ms: near 1000 per second means it is saturated. */
  cpu: number
  latencies?: number[]
}

/** `rtmpUrl` empty: every player is an HTTP-FLV one (the floor serves no RTMP). */
async function players(rtmpUrl: string, flvUrl: string, count: number): Promise<void> {
  let bytes = 0
  let connected = 0
  let sampling = false
  const latencies: number[] = []
  const frame = (type: number, data: Buffer) => {
    bytes += data.length
    // Video frames after the 5-byte AVC header carry the publisher's send time; sample one in four.
    if (sampling && type === 9 && data[1] === 1 && data.length > 13 && Math.random() < 0.25)
      latencies.push(wallNow() - data.readDoubleBE(5))
  }
  const rtmpOne = async () => {
    const player = await RtmpClient.play(rtmpUrl, { timeout: 30_000 })
    connected++
    for await (const tag of player.tags()) frame(tag.type, tag.data)
  }
  const flvOne = () =>
    new Promise<void>((resolve) => {
      http
        .get(flvUrl, { agent: false }, (res) => {
          connected++
          const reader = new FlvReader()
          res.on('data', (chunk: Buffer) => {
            for (const tag of reader.push(chunk)) frame(tag.type, tag.data)
          })
          res.on('end', resolve)
          res.on('error', () => resolve())
        })
        .on('error', () => resolve())
    })
  for (let i = 0; i < count; i++) {
    if (rtmpUrl === '') void flvOne()
    else rtmpOne().catch((e) => process.stderr.write(`rtmp player: ${e.message}\n`))
    void flvOne()
    if (i % 20 === 19) await sleep(20) // no connect storm
  }
  process.on('message', (m: { type: string }) => {
    if (m.type === 'sample') sampling = true
    const usage = process.cpuUsage()
    const report: PlayerReport = { type: 'report', bytes, connected, cpu: (usage.user + usage.system) / 1000 }
    if (m.type === 'finish') report.latencies = latencies
    process.send!(report)
  })
}

// ---- the orchestrator ------------------------------------------------------------------------

type Measured = {
  cpuMsPerMbit: number
  /** The user-space (utime) and kernel (stime) parts of cpuMsPerMbit. */
  userMsPerMbit: number
  systemMsPerMbit: number
  /** CPU the players' process used, in cores (1 = a whole core: it reads as fast as it can). */
  playersCpu: number
  /** Write syscalls per delivered megabit: what the CPU figure mostly pays for, and not load-sensitive. */
  writesPerMbit: number
  rssPerPlayerKiB: number
  p50: number
  p99: number
  mbps: number
  connected: number
  /** Latency seen by one player in a quiet process (the server's share). */
  probeP50: number
  probeP99: number
  /** Connect → first tag of a new RTMP player during the measurement, ms (median and worst of JOIN_PROBES). */
  joinP50: number
  joinMax: number
}

/** Connects a new player, waits for its first tag; the time in ms (Infinity when it failed). */
async function joinTime(url: string): Promise<number> {
  const t0 = performance.now()
  try {
    const player = await RtmpClient.play(url, { timeout: 10_000 })
    const timer = setTimeout(() => player.close(), 10_000)
    for await (const _ of player.tags()) break
    clearTimeout(timer)
    const took = performance.now() - t0
    player.close()
    return took
  } catch {
    return Number.POSITIVE_INFINITY
  }
}

/** utime and stime of a process, in ms (from /proc: Linux only). */
function cpuMs(pid: number): { user: number; system: number } {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  // USER_HZ is 100 on Linux
  return { user: Number(fields[11]) * 10, system: Number(fields[12]) * 10 }
}
/** Write syscalls a process made so far (/proc/PID/io syscw: write, writev, sendmsg…). */
function writeCalls(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/io`, 'utf8').match(/syscw:\s+(\d+)/)?.[1] ?? Number.NaN)
}
function rssBytes(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/)
  return Number(line?.[1] ?? 0) * 1024
}

function ask(child: ChildProcess, type: string): Promise<PlayerReport> {
  child.send({ type })
  return once(child, 'message').then(([m]) => m as PlayerReport)
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy()
        resolve(true)
      })
      s.on('error', () => resolve(false))
    })
    if (ok) return
    await sleep(50)
  }
  throw new Error(`nothing listens on ${port}`)
}

async function freePort(): Promise<number> {
  const probe = net.createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as net.AddressInfo
  await new Promise((resolve) => probe.close(resolve))
  return port
}

const self = fileURLToPath(import.meta.url)

async function startWirekit(
  script = self,
): Promise<{ pid: number; rtmp: number; http: number; stop: () => void }> {
  const profile = process.env.WIREKIT_BENCH_PROFILE // a directory: write a CPU profile of the server there
  const child = fork(script, ['--role', 'wirekit-server'], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    execArgv: profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : [],
  })
  const [ready] = (await once(child, 'message')) as [{ rtmp: number; http: number }]
  const stop = () => child.send({ type: 'exit' }) // it reports its session errors, then exits
  return { pid: child.pid!, rtmp: ready.rtmp, http: ready.http, stop }
}

async function startFloor(): Promise<{ pid: number; rtmp: number; http: number; stop: () => void }> {
  const script = fileURLToPath(new URL('./peers/flv-floor.ts', import.meta.url))
  const child = fork(script, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  const [ready] = (await once(child, 'message')) as [{ http: number }]
  return { pid: child.pid!, rtmp: 0, http: ready.http, stop: () => child.send({ type: 'exit' }) }
}

async function startNms(dir: string): Promise<{ pid: number; rtmp: number; http: number; stop: () => void }> {
  const rtmp = await freePort()
  const httpPort = await freePort()
  const config = join(dir, 'nms.json')
  writeFileSync(
    config,
    JSON.stringify({
      bind: '127.0.0.1',
      notify: { url: '' },
      store: { path: join(dir, 'data') },
      auth: { play: false, publish: false, secret: '' },
      rtmp: { port: rtmp },
      http: { port: httpPort },
      webadmin: { enable: false },
      record: { auto: false, path: join(dir, 'record') },
    }),
  )
  const app = fileURLToPath(new URL('../node_modules/node-media-server/bin/app.js', import.meta.url))
  const child = spawn(process.execPath, [app, '-c', config, '--no-admin'], { stdio: 'ignore', cwd: dir })
  await waitForPort(rtmp)
  await waitForPort(httpPort)
  return { pid: child.pid!, rtmp, http: httpPort, stop: () => child.kill('SIGKILL') }
}

/** Publishes in real time until stopped: a video frame (with its send time) and an audio frame every 40 ms. */
function publish(publisher: RtmpPublisher): { stop: () => Promise<void> } {
  let running = true
  const loop = (async () => {
    await publisher.writeTag({ type: 9, timestamp: 0, data: AVC_CONFIG })
    await publisher.writeTag({ type: 8, timestamp: 0, data: AAC_CONFIG })
    const start = performance.now()
    for (let n = 0; running; n++) {
      const ts = Math.round((n * 1000) / FPS)
      const wait = start + ts - performance.now()
      if (wait > 0) await sleep(wait)
      await publisher.writeTag({ type: 9, timestamp: ts, data: videoFrame(n) })
      await publisher.writeTag({ type: 8, timestamp: ts, data: audioFrame() })
    }
  })()
  return {
    stop: async () => {
      running = false
      await loop
      await publisher.close()
    },
  }
}

async function measure(name: string, server: { pid: number; rtmp: number; http: number }): Promise<Measured> {
  // The floor (rtmp 0) makes its own frames and serves HTTP-FLV only: no publisher, no RTMP probes.
  const rtmp = server.rtmp !== 0
  const publisher = rtmp ? await RtmpClient.publish(`rtmp://127.0.0.1:${server.rtmp}/live/bench`) : undefined
  const pub = publisher ? publish(publisher) : { stop: async () => {} }
  await sleep(1000)
  const rssAlone = rssBytes(server.pid)
  const playerProc = fork(
    self,
    [
      '--role',
      'players',
      '--n',
      String(PLAYERS),
      '--rtmp',
      rtmp ? `rtmp://127.0.0.1:${server.rtmp}/live/bench` : '',
      '--flv',
      `http://127.0.0.1:${server.http}/live/bench.flv`,
    ],
    { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] },
  )
  try {
    const connectBy = Date.now() + 60_000
    while ((await ask(playerProc, 'poll')).connected < 2 * PLAYERS) {
      if (Date.now() > connectBy) break
      await sleep(250)
    }
    await sleep(WARMUP_MS)
    const cpu0 = cpuMs(server.pid)
    const writes0 = writeCalls(server.pid)
    // WIREKIT_BENCH_STRACE=DIR: count the server's syscalls by kind while measuring (strace -c slows
    // the server, so CPU figures of such a run are not comparable; the counts are exact).
    const straceDir = process.env.WIREKIT_BENCH_STRACE
    const strace = straceDir
      ? spawn('strace', [
          '-c',
          '-f',
          '-p',
          String(server.pid),
          '-o',
          join(straceDir, `${name.replace(/ /g, '-')}.txt`),
        ])
      : undefined
    const start = await ask(playerProc, 'sample')
    const t0 = performance.now()
    // One more player here, beside the publisher and away from the herd of players: the latency it
    // sees is the server's part (the herd's figure adds the time their process takes to read 2N streams).
    const probeLatencies: number[] = []
    // A server too busy to admit it leaves the figures empty (n/a), not the run failed.
    const probe = !rtmp
      ? undefined
      : await RtmpClient.play(`rtmp://127.0.0.1:${server.rtmp}/live/bench`, {
          timeout: 20_000,
        }).catch((error: Error) => {
          process.stderr.write(`rtmp-fanout: ${name}: the lone player could not join: ${error.message}\n`)
          return undefined
        })
    // Only frames sent after it joined: the GOP cache it starts with is older by design.
    const joinedAt = wallNow()
    const probing = (async () => {
      if (probe === undefined) return
      for await (const tag of probe.tags())
        if (tag.type === 9 && tag.data[1] === 1 && tag.data.length > 13) {
          const sent = tag.data.readDoubleBE(5)
          if (sent >= joinedAt) probeLatencies.push(wallNow() - sent)
        }
    })()
    const joins: number[] = []
    const probes = (async () => {
      for (let i = 0; i < (rtmp ? JOIN_PROBES : 0); i++) {
        await sleep(MEASURE_MS / (JOIN_PROBES + 1))
        joins.push(await joinTime(`rtmp://127.0.0.1:${server.rtmp}/live/bench`))
      }
    })()
    await sleep(MEASURE_MS)
    const cpu1 = cpuMs(server.pid)
    const writes1 = writeCalls(server.pid)
    if (strace) {
      strace.kill('SIGINT')
      await once(strace, 'exit')
    }
    const end = await ask(playerProc, 'finish')
    const elapsed = performance.now() - t0
    const rss = rssBytes(server.pid)
    await probes
    probe?.close()
    await probing.catch(() => {})
    joins.sort((a, b) => a - b)
    probeLatencies.sort((a, b) => a - b)
    const megabits = ((end.bytes - start.bytes) * 8) / 1e6
    const latencies = (end.latencies ?? []).sort((a, b) => a - b)
    process.stderr.write(
      `rtmp-fanout: ${name}: ${end.connected} players, ${(megabits / (elapsed / 1000)).toFixed(0)} Mbit/s delivered\n`,
    )
    return {
      cpuMsPerMbit: (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / megabits,
      userMsPerMbit: (cpu1.user - cpu0.user) / megabits,
      systemMsPerMbit: (cpu1.system - cpu0.system) / megabits,
      playersCpu: (end.cpu - start.cpu) / elapsed,
      writesPerMbit: (writes1 - writes0) / megabits,
      rssPerPlayerKiB: (rss - rssAlone) / 1024 / end.connected,
      p50: quantile(latencies, 0.5),
      p99: quantile(latencies, 0.99),
      mbps: megabits / (elapsed / 1000),
      connected: end.connected,
      probeP50: quantile(probeLatencies, 0.5),
      probeP99: quantile(probeLatencies, 0.99),
      joinP50: quantile(joins, 0.5),
      joinMax: joins.at(-1) ?? Number.NaN,
    }
  } finally {
    playerProc.kill('SIGKILL')
    await pub.stop().catch(() => {})
  }
}

async function main(): Promise<void> {
  const deadline = setTimeout(() => {
    process.stderr.write('rtmp-fanout: deadline passed\n')
    process.exit(1)
  }, DEADLINE_MS)
  const dir = mkdtempSync(join(tmpdir(), 'wirekit-bench-rtmp-'))
  const contenders: [string, () => ReturnType<typeof startWirekit>][] = [
    ['wirekit', () => startWirekit()],
    ['node-media-server', () => startNms(dir)],
  ]
  if (BASELINE) contenders.push(['wirekit before', () => startWirekit(BASELINE)])
  if (FLOOR) contenders.push(['floor', startFloor])
  const runs = new Map<string, Measured[]>(contenders.map(([name]) => [name, []]))
  const failures: string[] = []
  const ratios: number[] = []
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate the order, so a drift in the machine's load hits every contender alike.
    for (const [name, start] of round % 2 === 0 ? contenders : [...contenders].reverse()) {
      const server = await start()
      try {
        runs.get(name)!.push(await measure(name, server))
      } catch (error) {
        failures.push(`${name}: ${(error as Error).message}`)
      } finally {
        server.stop()
        await sleep(500)
      }
    }
    const [w, n] = [runs.get('wirekit')!.at(-1), runs.get('node-media-server')!.at(-1)]
    if (
      w &&
      n &&
      runs.get('wirekit')!.length === round + 1 &&
      runs.get('node-media-server')!.length === round + 1
    )
      ratios.push(n.cpuMsPerMbit / w.cpuMsPerMbit)
  }
  rmSync(dir, { recursive: true, force: true })
  clearTimeout(deadline)
  const median = (values: number[]) =>
    quantile(
      [...values].sort((a, b) => a - b),
      0.5,
    )
  const summary = (list: Measured[]): Measured | undefined =>
    list.length === 0
      ? undefined
      : (Object.fromEntries(
          Object.keys(list[0]!).map((k) => [k, median(list.map((m) => m[k as keyof Measured]))]),
        ) as Measured)
  const w = summary(runs.get('wirekit')!)
  const n = summary(runs.get('node-media-server')!)
  const b = BASELINE ? summary(runs.get('wirekit before')!) : undefined
  const f = FLOOR ? summary(runs.get('floor')!) : undefined
  const row = (name: string, m: Measured | undefined): string[] =>
    m === undefined
      ? [name, 'failed', '', '', '', '', '', '', '', '', '', '', '', '', '']
      : [
          name,
          String(m.connected),
          `${m.mbps.toFixed(0)}`,
          m.cpuMsPerMbit.toFixed(3),
          m.userMsPerMbit.toFixed(3),
          m.systemMsPerMbit.toFixed(3),
          m.writesPerMbit.toFixed(1),
          m.rssPerPlayerKiB.toFixed(1),
          m.p50.toFixed(1),
          m.p99.toFixed(1),
          m.probeP50.toFixed(1),
          m.probeP99.toFixed(1),
          m.joinP50.toFixed(0),
          m.joinMax.toFixed(0),
          m.playersCpu.toFixed(2),
        ]
  const lines = [
    '## RTMP fan-out',
    '',
    `One ~3 Mbps publish (25 fps, 15 KB frames, keyframe every 2 s, AAC), ${PLAYERS} RTMP + ${PLAYERS} HTTP-FLV players on`,
    `loopback, ${MEASURE_MS / 1000} s measured after ${WARMUP_MS / 1000} s of warm-up. Server CPU (utime + stime of the server`,
    'process alone) per megabit delivered to players; RSS added per player; publish → player latency of',
    'video frames (send time carried in the frame; players and publisher in other processes).',
    '',
    markdownTable(
      [
        'server',
        'players',
        'Mbit/s delivered',
        'CPU ms / Mbit',
        'user ms / Mbit',
        'system ms / Mbit',
        'write syscalls / Mbit',
        'RSS KiB / player',
        'latency p50 ms',
        'latency p99 ms',
        'lone player p50 ms',
        'lone player p99 ms',
        'join ms p50',
        'join ms max',
        'players process CPU (cores)',
      ],
      [
        row('wirekit', w),
        row('node-media-server 4.x', n),
        ...(BASELINE ? [row('wirekit before', b)] : []),
        ...(FLOOR ? [row('floor: raw net writes, 2N HTTP-FLV', f)] : []),
      ],
    ),
    '',
    `CPU per delivered megabit, node-media-server / wirekit: ${formatRatio(n?.cpuMsPerMbit, w?.cpuMsPerMbit)} (goal ≥ 2×)` +
      (ratios.length > 1 ? `; per round: ${ratios.map((r) => `${r.toFixed(2)}×`).join(', ')}.` : '.'),
    // The kernel's share (loopback TCP, paid per byte by both servers) bounds what user-space code can
    // win: if our system time alone exceeds half of node-media-server's total, 2× is out of reach.
    `wirekit system time / node-media-server total CPU, per megabit: ${formatRatio(w?.systemMsPerMbit, n?.cpuMsPerMbit)}` +
      ` (user: node-media-server / wirekit ${formatRatio(n?.userMsPerMbit, w?.userMsPerMbit)}; system: ${formatRatio(n?.systemMsPerMbit, w?.systemMsPerMbit)}).`,
    `Rounds: ${ROUNDS} (medians). Latency p50/p99: players of the herd (one process reading all 2N streams); lone player: one`,
    "more player in the publisher's process (frames sent after it joined), the server's share of the latency.",
    `Join: connect → first tag of a new RTMP player during the measurement (${JOIN_PROBES} probes a round).`,
  ]
  if (b !== undefined)
    lines.push(
      '',
      `CPU per delivered megabit, wirekit before / wirekit: ${formatRatio(b.cpuMsPerMbit, w?.cpuMsPerMbit)}; write syscalls: ${formatRatio(b.writesPerMbit, w?.writesPerMbit)} fewer.`,
    )
  if (f !== undefined)
    lines.push(
      '',
      `The floor (no protocol work: each frame one prebuilt write to each of 2N HTTP-FLV players): node-media-server / floor ${formatRatio(n?.cpuMsPerMbit, f.cpuMsPerMbit)},` +
        ` wirekit / floor ${formatRatio(w?.cpuMsPerMbit, f.cpuMsPerMbit)}. Below 2× for node-media-server / floor, no server that writes each frame to each player can use half its CPU.`,
    )
  if (failures.length > 0) lines.push('', ...failures.map((f) => `- failed: ${f}`))
  process.stdout.write(`${lines.join('\n')}\n`)
  process.exit(0)
}

if (role === 'wirekit-server') await wirekitServer()
else if (role === 'players') {
  const at = (flag: string) => process.argv[process.argv.indexOf(flag) + 1]!
  await players(at('--rtmp'), at('--flv'), Number(at('--n')))
} else await main()
