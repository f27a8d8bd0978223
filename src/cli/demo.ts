// `wirekit demo`: the delivery contract, shown in a few seconds on loopback.
// A MessageServer, a FaultProxy in front of it, and two clients. Messages flow both ways while the
// proxy resets every connection several times mid-stream; at the end every stream is checked:
// each message arrived exactly once, in order.
import { MessageClient, MessageServer, type Peer } from '../messaging/index.ts'
import { FaultProxy } from '../proxy/index.ts'
import { delay } from '../util/timeout.ts'

export type DemoOptions = { messages: number; cuts: number; quiet?: boolean }

/** What one stream saw: numbers 1..sent should have arrived once each, in order. */
export type StreamReport = {
  name: string
  sent: number
  received: number
  lost: number
  duplicated: number
  outOfOrder: number
}
export type DemoReport = {
  streams: StreamReport[]
  cuts: number
  resumes: number
  requests: number
  ms: number
  ok: boolean
}

const CLIENTS = ['alice', 'bob']

export async function demo(options: DemoOptions): Promise<DemoReport> {
  const { messages, cuts } = options
  const say = options.quiet ? () => {} : (line: string) => process.stdout.write(`${line}\n`)
  const started = performance.now()

  // Server side: remember what each client sent, push numbered messages back, answer requests.
  const server = new MessageServer({
    heartbeat: { interval: 1000, timeout: 2000 },
    authenticate: (credentials) =>
      typeof credentials === 'string' && CLIENTS.includes(credentials) ? credentials : false,
  })
  const upstream = new Map<string, number[]>()
  const peers = new Map<string, Peer>()
  server.handle('echo', (data) => data)
  const serverReady = new Map<string, () => void>()
  server.on('connection', (peer: Peer) => {
    const name = String(peer.identity)
    peers.set(name, peer)
    if (!upstream.has(name)) upstream.set(name, [])
    peer.join('lobby')
    peer.on('up', (msg: { n: number }) => upstream.get(name)!.push(msg.n))
    serverReady.get(name)?.()
  })
  const address = await server.listen({ host: '127.0.0.1', port: 0 })
  const port = 'port' in address ? address.port : 0

  // The network between them: a proxy that adds a little latency, and that we reset mid-stream.
  const proxy = await FaultProxy.start({
    target: { host: '127.0.0.1', port },
    latency: 2,
    bandwidth: 256 * 1024,
  })
  say(
    `server on 127.0.0.1:${port}, fault proxy on 127.0.0.1:${proxy.port} (2 ms latency, 256 KiB/s, ${cuts} resets coming)`,
  )

  const downstream = new Map<string, number[]>()
  let resumes = 0
  const clients: MessageClient[] = []
  for (const name of CLIENTS) {
    const connected = new Promise<void>((resolve) => serverReady.set(name, resolve))
    const client = await MessageClient.connect(`tcp://127.0.0.1:${proxy.port}`, {
      credentials: name,
      reconnect: { initialDelay: 20, maxDelay: 200 },
    })
    const got: number[] = []
    downstream.set(name, got)
    client.on('down', (msg: { n: number }) => got.push(msg.n))
    client.on('resumed', () => resumes++)
    client.on('state', (state: string) => {
      if (state === 'reconnecting') say(`  ${name}: connection lost, reconnecting…`)
    })
    clients.push(client)
    await connected
  }

  // The stream: `messages` each way per client, in bursts; between bursts the proxy resets everything.
  const bursts = cuts + 1
  const perBurst = Math.ceil(messages / bursts)
  const pending: Promise<unknown>[] = []
  let sent = 0
  let requests = 0
  const arrived = () =>
    CLIENTS.reduce((sum, n) => sum + upstream.get(n)!.length + downstream.get(n)!.length, 0)
  for (let burst = 0; burst < bursts; burst++) {
    const from = sent + 1
    const to = Math.min(messages, sent + perBurst)
    for (let n = from; n <= to; n++) {
      for (const [i, client] of clients.entries()) {
        pending.push(client.emit('up', { n }))
        pending.push(peers.get(CLIENTS[i]!)!.emit('down', { n }))
      }
    }
    sent = to
    pending.push(clients[0]!.request('echo', { burst }).then(() => requests++))
    if (burst < cuts) {
      // Let part of the burst arrive, then cut with the rest on the wire, unacknowledged.
      const total = sent * CLIENTS.length * 2
      const half = total - perBurst * CLIENTS.length
      await settle(() => arrived() >= half, 2000)
      const inFlight = total - arrived()
      const reset = proxy.resetAll() // …then cut every connection
      say(`cut ${burst + 1}/${cuts}: reset ${reset} connections with ${inFlight} messages not yet delivered`)
      await delay(40)
    }
  }
  await Promise.all(pending)
  await settle(
    () => CLIENTS.every((n) => upstream.get(n)!.length >= messages && downstream.get(n)!.length >= messages),
    5000,
  )

  const streams: StreamReport[] = []
  for (const name of CLIENTS) {
    streams.push(check(`${name} → server`, messages, upstream.get(name)!))
    streams.push(check(`server → ${name}`, messages, downstream.get(name)!))
  }
  await Promise.all(clients.map((c) => c.close()))
  await server.close()
  await proxy.close()

  const ok = streams.every((s) => s.lost === 0 && s.duplicated === 0 && s.outOfOrder === 0)
  const report: DemoReport = {
    streams,
    cuts,
    resumes,
    requests,
    ms: Math.round(performance.now() - started),
    ok,
  }
  say('')
  say(table(report))
  say('')
  say(
    ok
      ? `Every message arrived exactly once, in order, across ${cuts} connection resets (${resumes} session resumes). ${requests}/${bursts} requests answered once.`
      : 'Some messages were lost, duplicated or reordered: this is a bug, please report it.',
  )
  if (!ok) process.exitCode = 1
  return report
}

function check(name: string, sent: number, got: number[]): StreamReport {
  const seen = new Set<number>()
  let duplicated = 0
  let outOfOrder = 0
  let last = 0
  for (const n of got) {
    if (seen.has(n)) duplicated++
    else seen.add(n)
    if (n !== last + 1) outOfOrder++
    last = n
  }
  let lost = 0
  for (let n = 1; n <= sent; n++) if (!seen.has(n)) lost++
  return { name, sent, received: got.length, lost, duplicated, outOfOrder }
}

function table(report: DemoReport): string {
  const rows = [['stream', 'sent', 'received', 'lost', 'duplicated', 'out of order']]
  for (const s of report.streams)
    rows.push([s.name, ...[s.sent, s.received, s.lost, s.duplicated, s.outOfOrder].map(String)])
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  const lines = rows.map((r) =>
    r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '),
  )
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '))
  lines.push('', `${report.cuts} resets, ${report.resumes} resumes, ${report.ms} ms`)
  return lines.join('\n')
}

async function settle(done: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms
  while (!done() && Date.now() < deadline) await delay(10)
}
