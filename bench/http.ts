// GET of a small JSON body over 50 keep-alive connections: HttpSession against undici.request, axios and got, in
// the same run, against one node:http server in a child process (so the server does not share the clients' loop).
// Each round runs every client; the figure is the median of the per-round ratios. Goals: ≥ 0.9× undici.request, ≥ 2×
// axios and got.
// Usage: node bench/http.ts [--quick]
import { fork } from 'node:child_process'
import { createServer, Agent as HttpAgent } from 'node:http'
import axios from 'axios'
import got from 'got'
import { Agent, request } from 'undici'
import { HttpSession } from '../src/http/index.ts'

const BODY = JSON.stringify({ id: 42, name: 'wirekit', tags: ['a', 'b'], active: true })

if (process.argv.includes('--server')) {
  const server = createServer({ keepAliveTimeout: 60_000 }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(BODY) })
    res.end(BODY)
  })
  server.listen(0, '127.0.0.1', () => {
    const address = server.address()
    process.send?.(typeof address === 'object' && address !== null ? address.port : 0)
  })
  process.on('disconnect', () => process.exit(0))
} else {
  await main()
}

type Client = {
  name: string
  get: () => Promise<unknown>
  close: () => Promise<void> | void
  /** Share of REQUESTS per round: the slow peers run fewer requests (their rate does not depend on the count). */
  share: number
}
/** One round of one client: requests per second and the client process's CPU time per request (µs). */
type Sample = { rate: number; cpu: number }

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick')
  const CONCURRENCY = 50
  const REQUESTS = quick ? 5_000 : 20_000
  const ROUNDS = quick ? 5 : 7

  const child = fork(new URL(import.meta.url).pathname, ['--server'], { stdio: 'inherit' })
  const port = await new Promise<number>((resolve) => child.once('message', (m) => resolve(Number(m))))
  const url = `http://127.0.0.1:${port}/json`

  const session = new HttpSession({ connections: CONCURRENCY })
  const undiciAgent = new Agent({ connections: CONCURRENCY })
  const nodeAgent = new HttpAgent({ keepAlive: true, maxSockets: CONCURRENCY })
  const axiosClient = axios.create({ httpAgent: nodeAgent })
  const gotClient = got.extend({ agent: { http: nodeAgent }, retry: { limit: 0 } })

  const clients: Client[] = [
    { name: 'HttpSession', get: () => session.get(url), close: () => session.close(), share: 1 },
    {
      name: 'undici.request',
      get: async () => (await request(url, { dispatcher: undiciAgent })).body.json(),
      close: () => undiciAgent.close(),
      share: 1,
    },
    { name: 'axios', get: () => axiosClient.get(url), close: () => {}, share: 0.25 },
    { name: 'got', get: () => gotClient(url).json(), close: () => nodeAgent.destroy(), share: 0.25 },
  ]

  // One request of each shape first: the response must be the parsed JSON everywhere.
  const parsed = (await session.get<{ name: string }>(url)).data
  if (parsed.name !== 'wirekit') throw new Error('HttpSession did not parse the JSON body')

  async function round(client: Client, count: number): Promise<Sample> {
    let issued = 0
    const start = performance.now()
    const cpu = process.cpuUsage()
    async function worker(): Promise<void> {
      while (issued < count) {
        issued++
        await client.get()
      }
    }
    await Promise.all(Array.from({ length: CONCURRENCY }, worker))
    const used = process.cpuUsage(cpu)
    return { rate: count / ((performance.now() - start) / 1000), cpu: (used.user + used.system) / count }
  }

  const samples = new Map<string, Sample[]>(clients.map((c) => [c.name, []]))
  for (const client of clients) await round(client, Math.min(2_000, REQUESTS)) // warm up pools and the JIT
  for (let r = 0; r < ROUNDS; r++) {
    // HttpSession runs next to each peer within a round, first on even rounds and last on odd ones, so every pair
    // shares the machine's load of the moment: on a busy machine the per-round ratio is steadier than the rates.
    const order = r % 2 === 0 ? clients : [...clients].reverse()
    for (const client of order) {
      samples.get(client.name)?.push(await round(client, Math.round(REQUESTS * client.share)))
    }
  }
  for (const client of clients) await client.close()
  child.disconnect()

  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  const ours = samples.get('HttpSession') ?? []
  const undiciRate = median((samples.get('undici.request') ?? []).map((x) => x.rate))
  console.log(`## HTTP: small JSON GET over ${CONCURRENCY} keep-alive connections\n`)
  console.log(
    `${REQUESTS} requests per round (axios and got: ${REQUESTS / 4}), ${ROUNDS} rounds, medians; ` +
      `"HttpSession ÷ client" is the median of the per-round ratios. Node ${process.version}.\n`,
  )
  console.log(
    '| client | requests/s | vs undici.request | client CPU µs/request | HttpSession ÷ client | goal |',
  )
  console.log('|---|---:|---:|---:|---:|---|')
  const goals: Record<string, string> = { 'undici.request': '≥ 0.9×', axios: '≥ 2×', got: '≥ 2×' }
  for (const [name, xs] of samples) {
    const rate = median(xs.map((x) => x.rate))
    const ratio =
      name === 'HttpSession' ? '—' : `${median(xs.map((x, i) => ours[i].rate / x.rate)).toFixed(2)}×`
    console.log(
      `| ${name} | ${Math.round(rate).toLocaleString('en-US')} | ${(rate / undiciRate).toFixed(2)}× | ` +
        `${median(xs.map((x) => x.cpu)).toFixed(1)} | ${ratio} | ${goals[name] ?? ''} |`,
    )
  }
}
