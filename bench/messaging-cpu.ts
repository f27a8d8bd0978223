// Benchmark: CPU time per message of wirekit's TCP messaging, this checkout against another one
// (an older commit in a git worktree), alternating rounds in the same run. Client and server share
// one process, so the figure is the whole send + receive + ack path of both ends. CPU time holds
// far better than wall rates on a loaded machine; `--callgrind` counts instructions instead.
// Usage: node bench/messaging-cpu.ts --before /tmp/wt-old [--after <checkout>] [--rounds 5] [--count 200000]
// [--only oneway|reqres] [--callgrind]  (--after defaults to this checkout; reqres runs count/4 requests)
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { flagValue } from './peers/harness.ts'
import { jsonMessage } from './peers/payload.ts'

const HERE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const WINDOW = 4096
const IN_FLIGHT = 64

type Outcome = { cpuUs: number; wallMs: number; count: number }

/** Runs `count` messages of one case inside this process against the checkout at `root`. */
async function child(root: string, kind: string, count: number, warmup: number): Promise<Outcome> {
  const url = pathToFileURL(path.join(root, 'src/messaging/index.ts')).href
  const { MessageServer, MessageClient } = await import(url)
  const server = new MessageServer({})
  let received = 0
  let target = 0
  let reached: (() => void) | null = null
  server.handle('echo', (data: unknown) => data)
  server.on('connection', (peer: { on(name: string, fn: (msg: unknown) => void): void }) => {
    peer.on('m', () => {
      if (++received === target) reached?.()
    })
  })
  const address = await server.listen({ port: 0, host: '127.0.0.1' })
  const client = await MessageClient.connect(`tcp://127.0.0.1:${address.port}`, { reconnect: false })

  async function oneway(n: number): Promise<void> {
    received = 0
    target = n
    const all = new Promise<void>((resolve) => (reached = resolve))
    let inFlight = 0
    let wake: (() => void) | null = null
    const settled = (): void => {
      inFlight--
      if (wake && inFlight <= WINDOW / 2) {
        wake()
        wake = null
      }
    }
    for (let i = 0; i < n; i++) {
      if (inFlight >= WINDOW) await new Promise<void>((resolve) => (wake = resolve))
      inFlight++
      client.emit('m', jsonMessage(i)).then(settled, (err: unknown) => {
        throw err
      })
    }
    await all
    while (inFlight > 0) await new Promise<void>((resolve) => (wake = resolve))
  }

  async function reqres(n: number): Promise<void> {
    let next = 0
    const lane = async (): Promise<void> => {
      while (next < n) await client.request('echo', jsonMessage(next++))
    }
    await Promise.all(Array.from({ length: IN_FLIGHT }, lane))
  }

  const run = kind === 'reqres' ? reqres : oneway
  await run(warmup)
  const cpu0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  await run(count)
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6
  const cpu = process.cpuUsage(cpu0)
  client.close()
  await server.close({ drain: 0 })
  return { cpuUs: cpu.user + cpu.system, wallMs, count }
}

function runChild(root: string, kind: string, count: number, warmup: number, callgrind: boolean) {
  const node = process.execPath
  const args = [fileURLToPath(import.meta.url), '--child', root, kind, String(count), String(warmup)]
  const out = callgrind ? '/tmp/messaging-cpu.callgrind.%p' : ''
  const cmd = callgrind ? 'valgrind' : node
  const argv = callgrind ? ['--tool=callgrind', `--callgrind-out-file=${out}`, node, ...args] : args
  const r = spawnSync(cmd, argv, { encoding: 'utf8', maxBuffer: 1 << 24 })
  if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`)
  const outcome = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as Outcome
  if (!callgrind) return { ...outcome, instructions: 0 }
  const match = /Collected : (\d+)/.exec(r.stderr)
  return { ...outcome, instructions: Number(match?.[1] ?? Number.NaN) }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--child')
  if (i >= 0) {
    const [root, kind, count, warmup] = process.argv.slice(i + 1)
    const outcome = await child(root, kind, Number(count), Number(warmup))
    console.log(JSON.stringify(outcome))
    process.exit(0)
  }
  const before = flagValue('--before')
  if (!before) throw new Error('--before <checkout of the older commit> is required')
  const rounds = Number(flagValue('--rounds') ?? 5)
  const callgrind = process.argv.includes('--callgrind')
  const count = Number(flagValue('--count') ?? (callgrind ? 20_000 : 200_000))
  const sides = [
    { name: 'before', root: path.resolve(before) },
    { name: 'after', root: path.resolve(flagValue('--after') ?? HERE) },
  ]
  const only = flagValue('--only')
  for (const kind of only ? [only] : ['oneway', 'reqres']) {
    const n = kind === 'reqres' ? Math.round(count / 4) : count
    const per: Record<string, { cpu: number[]; rate: number[]; instr: number[] }> = {}
    for (const s of sides) per[s.name] = { cpu: [], rate: [], instr: [] }
    for (let round = 0; round < rounds; round++) {
      for (const s of round % 2 ? [...sides].reverse() : sides) {
        if (callgrind) {
          // Instructions per message: the difference between 2n and n messages cancels start-up.
          const small = runChild(s.root, kind, n, 2_000, true)
          const big = runChild(s.root, kind, 2 * n, 2_000, true)
          per[s.name].instr.push((big.instructions - small.instructions) / n)
          per[s.name].cpu.push((big.cpuUs - small.cpuUs) / n)
          per[s.name].rate.push(n / ((big.wallMs - small.wallMs) / 1000))
        } else {
          const o = runChild(s.root, kind, n, Math.min(50_000, n / 4), false)
          per[s.name].cpu.push(o.cpuUs / o.count)
          per[s.name].rate.push(o.count / (o.wallMs / 1000))
        }
        const last = per[s.name]
        console.error(
          `${kind} round ${round + 1} ${s.name}: ${last.cpu.at(-1)?.toFixed(3)} CPU µs/msg, ` +
            `${Math.round(last.rate.at(-1) ?? 0)} msgs/s` +
            (callgrind ? `, ${Math.round(last.instr.at(-1) ?? 0)} instructions/msg` : ''),
        )
      }
    }
    const b = per.before
    const a = per.after
    const paired = a.cpu.map((x, k) => b.cpu[k] / x)
    console.log(
      `${kind} (${n} messages, ${rounds} rounds): CPU µs/msg before ${median(b.cpu).toFixed(3)}, after ${median(a.cpu).toFixed(3)}; ` +
        `msgs/s before ${Math.round(median(b.rate))}, after ${Math.round(median(a.rate))}; ` +
        `after speed / before (CPU, median of paired rounds) ${median(paired).toFixed(3)}×; ` +
        `least CPU µs/msg (the least disturbed round) before ${Math.min(...b.cpu).toFixed(3)}, after ${Math.min(...a.cpu).toFixed(3)}, ` +
        `ratio ${(Math.min(...b.cpu) / Math.min(...a.cpu)).toFixed(3)}×` +
        (callgrind
          ? `; instructions/msg before ${Math.round(median(b.instr))}, after ${Math.round(median(a.instr))}`
          : ''),
    )
  }
}

await main()
