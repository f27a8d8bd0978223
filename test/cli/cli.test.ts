import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, describe, test } from 'node:test'
import { promisify } from 'node:util'
import { bench } from '../../src/cli/bench.ts'
import { demo } from '../../src/cli/demo.ts'
import { program } from '../../src/cli/main.ts'

const run = promisify(execFile)
const bin = new URL('../../bin/wirekit.js', import.meta.url).pathname

describe('wirekit CLI', () => {
  test('demo delivers every message once and in order across connection resets', async () => {
    const report = await demo({ messages: 600, cuts: 3, quiet: true })
    assert.equal(report.ok, true)
    assert.equal(report.cuts, 3)
    assert.ok(report.resumes >= 3, `expected resumes after each cut, saw ${report.resumes}`)
    assert.equal(report.streams.length, 4)
    for (const s of report.streams) {
      assert.deepEqual([s.sent, s.received, s.lost, s.duplicated, s.outOfOrder], [600, 600, 0, 0, 0], s.name)
    }
  })

  test('bench reports positive throughput and ordered latency percentiles', async () => {
    const lines: string[] = []
    const result = await bench({ messages: 5000, requests: 2000, inFlight: 16, log: (l) => lines.push(l) })
    assert.ok(result.messagesPerSecond > 0 && result.requestsPerSecond > 0)
    assert.ok(result.p50 <= result.p99)
    assert.equal(lines.length, 2)
  })

  test('the program names every command of the contract', () => {
    const names = program().commands.map((c) => c.name())
    assert.deepEqual(names.sort(), ['bench', 'chat', 'demo', 'get', 'proxy', 'rtmp', 'serve'])
  })

  describe('wirekit get', () => {
    const server = createServer((req, res) => {
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ path: req.url }))
    })
    after(() => server.close())

    test('prints the body on stdout and the status with timings on stderr', async () => {
      server.listen(0, '127.0.0.1')
      await once(server, 'listening')
      const { port } = server.address() as AddressInfo
      const { stdout, stderr } = await run(process.execPath, [bin, 'get', `http://127.0.0.1:${port}/hello`])
      assert.deepEqual(JSON.parse(stdout), { path: '/hello' })
      assert.match(stderr, /200 OK .*first byte [\d.]+ms total [\d.]+ms/)
    })

    test('a refused connection exits 1 with a one-line error naming the code', async () => {
      await assert.rejects(
        run(process.execPath, [bin, 'get', 'http://127.0.0.1:1/']),
        (error: Error & { code?: number; stderr?: string }) => {
          assert.equal(error.code, 1)
          assert.match(error.stderr ?? '', /^wirekit: .*\(WK_HTTP_NETWORK\)\n$/)
          return true
        },
      )
    })
  })
})
