// GET of a small JSON body over 50 keep-alive connections: HttpSession against undici.request, axios and got, in
// the same run, against one node:http server in a child process (so the server does not share the clients' loop).
// Rounds alternate the clients and the median round counts. Goals: ≥ 0.9× undici.request, ≥ 2× axios and got.
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

type Client = { name: string; get: () => Promise<unknown>; close: () => Promise<void> | void }

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick')
  const CONCURRENCY = 50
  const REQUESTS = quick ? 5_000 : 20_000
  const ROUNDS = quick ? 3 : 5

  const child = fork(new URL(import.meta.url).pathname, ['--server'], { stdio: 'inherit' })
  const port = await new Promise<number>((resolve) => child.once('message', (m) => resolve(Number(m))))
  const url = `http://127.0.0.1:${port}/json`

  const session = new HttpSession({ connections: CONCURRENCY })
  const undiciAgent = new Agent({ connections: CONCURRENCY })
  const nodeAgent = new HttpAgent({ keepAlive: true, maxSockets: CONCURRENCY })
  const axiosClient = axios.create({ httpAgent: nodeAgent })
  const gotClient = got.extend({ agent: { http: nodeAgent }, retry: { limit: 0 } })

  const clients: Client[] = [
    { name: 'HttpSession', get: () => session.get(url), close: () => session.close() },
    {
      name: 'undici.request',
      get: async () => (await request(url, { dispatcher: undiciAgent })).body.json(),
      close: () => undiciAgent.close(),
    },
    { name: 'axios', get: () => axiosClient.get(url), close: () => {} },
    { name: 'got', get: () => gotClient(url).json(), close: () => nodeAgent.destroy() },
  ]

  // One request of each shape first: the response must be the parsed JSON everywhere.
  const parsed = (await session.get<{ name: string }>(url)).data
  if (parsed.name !== 'wirekit') throw new Error('HttpSession did not parse the JSON body')

  async function round(client: Client, count: number): Promise<number> {
    let issued = 0
    const start = performance.now()
    async function worker(): Promise<void> {
      while (issued < count) {
        issued++
        await client.get()
      }
    }
    await Promise.all(Array.from({ length: CONCURRENCY }, worker))
    return count / ((performance.now() - start) / 1000)
  }

  const results = new Map<string, number[]>(clients.map((c) => [c.name, []]))
  for (const client of clients) await round(client, Math.min(2_000, REQUESTS)) // warm up pools and the JIT
  for (let r = 0; r < ROUNDS; r++) {
    // Rotate the order so no client always runs first or last on a shared machine.
    for (let i = 0; i < clients.length; i++) {
      const client = clients[(i + r) % clients.length]
      results.get(client.name)?.push(await round(client, REQUESTS))
    }
  }
  for (const client of clients) await client.close()
  child.disconnect()

  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  const rate = new Map([...results].map(([name, xs]) => [name, median(xs)]))
  const ours = rate.get('HttpSession') ?? 0
  const undiciRate = rate.get('undici.request') ?? 1
  console.log(`## HTTP: small JSON GET over ${CONCURRENCY} keep-alive connections\n`)
  console.log(`${REQUESTS} requests per round, median of ${ROUNDS} rounds, Node ${process.version}.\n`)
  console.log('| client | requests/s | vs undici.request | HttpSession ÷ client | goal |')
  console.log('|---|---:|---:|---:|---|')
  const goals: Record<string, string> = { 'undici.request': '≥ 0.9×', axios: '≥ 2×', got: '≥ 2×' }
  for (const [name, value] of rate) {
    const ratio = name === 'HttpSession' ? '—' : `${(ours / value).toFixed(2)}×`
    console.log(
      `| ${name} | ${Math.round(value).toLocaleString('en-US')} | ${(value / undiciRate).toFixed(2)}× | ${ratio} | ${goals[name] ?? ''} |`,
    )
  }
}
