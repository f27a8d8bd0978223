// Hostile clients (issue 10), measured for RELIABILITY.md: each probe runs a bounded number of attacks
// against the README's forwarding server in a child process while a well-behaved client keeps asking
// for echoes; prints one Markdown row per probe: what the attacker saw, the good client's echo latency
// before and during, and the server's RSS after. Usage: node bench/hostile-clients.ts [--quick]
import { type ChildProcess, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Packr } from 'msgpackr'
import { MessageClient } from '../src/messaging/index.ts'
import { encodeFrame } from '../src/messaging/wire/frame-writer.ts'
import { codec, Format, helloFrame, Kind, type RawClient, rawConnect } from '../test/security/raw-client.ts'

const FIXTURE = fileURLToPath(new URL('../test/security/fixtures/forwarding-server.ts', import.meta.url))
const quick = process.argv.includes('--quick')
const ATTACKS = quick ? 50 : 300
const CONCURRENCY = 20
const DEADLINE = Date.now() + 5 * 60_000

type Server = { child: ChildProcess; port: number; rss(): Promise<number> }

async function startServer(config: object): Promise<Server> {
  const child = fork(FIXTURE, [JSON.stringify(config)], {
    execPath: process.execPath,
    execArgv: [],
    stdio: 'ignore',
  })
  const port = await new Promise<number>((resolve) =>
    child.on('message', (m: { port?: number }) => m.port !== undefined && resolve(m.port)),
  )
  const rss = () =>
    new Promise<number>((resolve) => {
      const on = (m: { rss?: number }) => {
        if (m.rss === undefined) return
        child.off('message', on)
        resolve(m.rss)
      }
      child.on('message', on)
      child.send('memory')
    })
  return { child, port, rss }
}

/** Echo latency of a good client (median and max of `n` sequential requests), in ms. */
async function latency(client: MessageClient, n: number): Promise<{ p50: number; max: number }> {
  const times: number[] = []
  for (let i = 0; i < n && Date.now() < DEADLINE; i++) {
    const t = performance.now()
    await client.request('echo', i, { timeout: 10_000 })
    times.push(performance.now() - t)
  }
  times.sort((a, b) => a - b)
  return { p50: times[Math.floor(times.length / 2)] ?? 0, max: times.at(-1) ?? 0 }
}

/** One attack: connect, do it, report what came back (a GOAWAY code, 'new session', 'nothing'). */
type Attack = (port: number, victim: string) => Promise<string>

async function settle(raw: RawClient, ms = 300): Promise<void> {
  await Promise.race([raw.closed, new Promise((r) => setTimeout(r, ms))])
  raw.destroy()
}

function outcome(raw: RawClient): string {
  const goaway = raw.messages.find((m) => m.kind === Kind.GOAWAY)
  if (goaway !== undefined) return `GOAWAY ${(goaway.body as { code: string }).code}`
  const welcome = raw.messages.find((m) => m.kind === Kind.WELCOME)
  if (welcome !== undefined && (welcome.body as { resumed: boolean }).resumed === false)
    return 'a new session'
  return 'acknowledged, nothing else'
}

const eventWith =
  (format: Format, body: Uint8Array, name = 'chat'): Attack =>
  async (port) => {
    const raw = await rawConnect(port)
    raw.send(helloFrame({}))
    await raw.next(Kind.WELCOME)
    raw.messages.length = 0
    raw.send(encodeFrame(codec, Kind.EVENT, format, { seq: 1, name, body }))
    await settle(raw)
    return outcome(raw)
  }

const cyclic: Record<string, unknown> = { text: 'loop' }
cyclic.self = cyclic
const BIG = Buffer.from([0x81, 0xa1, 0x6e, 0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0])

const PROBES: { name: string; limit: string; config: object; attack: Attack }[] = [
  {
    name: 'resume with another session’s id, no token',
    limit: 'token of 192 bits required',
    config: {},
    attack: async (port, victim) => {
      const raw = await rawConnect(port)
      raw.send(helloFrame({ session: victim }))
      await raw.next(Kind.WELCOME)
      await settle(raw)
      return outcome(raw)
    },
  },
  {
    name: 'MessagePack uint64 2^63 to a JSON server',
    limit: 'accept: [codec] (JSON)',
    config: {},
    attack: eventWith(Format.MSGPACK, BIG),
  },
  {
    name: 'MessagePack uint64 2^63 to a MessagePack server',
    limit: 'integers up to 2^53',
    config: { codec: 'msgpack' },
    attack: eventWith(Format.MSGPACK, BIG),
  },
  {
    name: 'cyclic structured-clone MessagePack',
    limit: 'no structured clone',
    config: { codec: 'msgpack' },
    attack: eventWith(Format.MSGPACK, new Packr({ structuredClone: true }).pack(cyclic)),
  },
  {
    name: 'event whose listener throws',
    limit: 'error → server error event / debuglog',
    config: {},
    attack: eventWith(Format.JSON, Buffer.from('1'), 'boom'),
  },
  {
    name: 'HELLO with 1 MB of nested JSON credentials',
    limit: 'HELLO ≤ 16 KiB, ≤ 32 deep',
    config: {},
    attack: async (port) => {
      const raw = await rawConnect(port)
      const nested = `${'['.repeat(500_000)}${']'.repeat(500_000)}`
      raw.send(
        encodeFrame(codec, Kind.HELLO, Format.JSON, {
          body: `{"v":1,"lastReceived":0,"credentials":${nested}}`,
        }),
      )
      await settle(raw)
      return outcome(raw)
    },
  },
]

const mb = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MB`
const ms = (n: number) => n.toFixed(2)
console.log(
  '| Probe | Default limit | Attacker sees | Others: echo p50 / max before (ms) | during (ms) | Server RSS before → after |',
)
console.log('| --- | --- | --- | --- | --- | --- |')
for (const probe of PROBES) {
  if (Date.now() > DEADLINE) break
  const server = await startServer(probe.config)
  const url = `tcp://127.0.0.1:${server.port}`
  const good = await MessageClient.connect(url, { reconnect: false })
  const victim = await MessageClient.connect(url, { reconnect: false })
  await latency(good, 200) // warm-up
  const before = await latency(good, 200)
  const rssBefore = await server.rss()
  const seen = new Map<string, number>()
  let done = 0
  const attacking = (async () => {
    const workers = Array.from({ length: CONCURRENCY }, async () => {
      while (done < ATTACKS && Date.now() < DEADLINE) {
        done++
        const what = await probe
          .attack(server.port, victim.sessionId!)
          .catch((e: Error) => `error: ${e.message}`)
        seen.set(what, (seen.get(what) ?? 0) + 1)
      }
    })
    await Promise.all(workers)
  })()
  const during = await latency(good, 200)
  await attacking
  const rssAfter = await server.rss()
  const alive = server.child.exitCode === null && good.connected && victim.connected
  const sees = [...seen].map(([what, n]) => `${what} (${n})`).join(', ')
  console.log(
    `| ${probe.name} | ${probe.limit} | ${sees} | ${ms(before.p50)} / ${ms(before.max)} | ${ms(during.p50)} / ${ms(during.max)}${alive ? '' : ' (server down!)'} | ${mb(rssBefore)} → ${mb(rssAfter)} |`,
  )
  await good.close()
  await victim.close()
  server.child.kill()
}
console.log(
  `\n${ATTACKS} attacks per probe, ${CONCURRENCY} at a time, on 127.0.0.1; node ${process.version}.`,
)
