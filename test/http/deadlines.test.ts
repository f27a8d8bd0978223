import assert from 'node:assert/strict'
import type { Readable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import type { HttpError } from '../../src/errors.ts'
import { DeadlineSweep, type Expirable, kNext, kPrev } from '../../src/http/deadlines.ts'
import { type HttpResponse, HttpSession } from '../../src/http/index.ts'
import { startHttpServer, type TestServer } from '../helpers/http-servers.ts'

/** An entry that records when (performance.now()) it was expired. */
function entry(
  name: string,
  inMs: number,
  log: Array<{ name: string; at: number; deadline: number }>,
): Expirable {
  const deadline = performance.now() + inMs
  return {
    deadline,
    expire: () => log.push({ name, at: performance.now(), deadline }),
    [kPrev]: undefined,
    [kNext]: undefined,
  }
}

async function until(condition: () => boolean, ms: number): Promise<void> {
  const end = performance.now() + ms
  while (!condition() && performance.now() < end) await sleep(10)
}

describe('DeadlineSweep', () => {
  test('expires each entry once its deadline passes, never before it, earliest first', async () => {
    const sweep = new DeadlineSweep()
    const log: Array<{ name: string; at: number; deadline: number }> = []
    // The later deadline is added first: the earlier one must re-arm the single timer.
    sweep.add(entry('late', 150, log))
    sweep.add(entry('early', 40, log))
    sweep.add(entry('middle', 90, log))
    await until(() => log.length === 3, 5000)
    assert.deepEqual(
      log.map((e) => e.name),
      ['early', 'middle', 'late'],
    )
    for (const e of log) {
      assert.ok(e.at >= e.deadline - 1, `${e.name} expired ${e.deadline - e.at} ms early`)
      assert.ok(e.at < e.deadline + 2000, `${e.name} expired ${e.at - e.deadline} ms late`)
    }
    assert.equal(sweep.size, 0)
  })

  test('an entry deleted before its deadline never expires, and the others still do', async () => {
    const sweep = new DeadlineSweep()
    const log: Array<{ name: string; at: number; deadline: number }> = []
    const gone = entry('gone', 30, log)
    const a = entry('a', 10, log)
    const b = entry('b', 60, log)
    sweep.add(a)
    sweep.add(gone)
    sweep.add(b)
    sweep.delete(gone)
    sweep.delete(gone) // a second delete is a no-op
    assert.equal(sweep.size, 2)
    await until(() => log.length === 2, 5000)
    await sleep(50)
    assert.deepEqual(
      log.map((e) => e.name),
      ['a', 'b'],
    )
    assert.equal(sweep.size, 0)
  })

  test('stop() cancels the timer: nothing expires afterwards', async () => {
    const sweep = new DeadlineSweep()
    const log: Array<{ name: string; at: number; deadline: number }> = []
    sweep.add(entry('x', 20, log))
    sweep.stop()
    await sleep(80)
    assert.equal(log.length, 0)
  })
})

describe('HttpSession deadlines on one timer', () => {
  let server: TestServer
  let api: HttpSession

  before(async () => {
    server = await startHttpServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x')
      if (url.pathname === '/trickle') {
        res.write('first|')
        const timer = setTimeout(() => res.end('second'), 400)
        res.on('close', () => clearTimeout(timer))
        return
      }
      const ms = Number(url.searchParams.get('ms'))
      const timer = setTimeout(() => res.end('late'), ms)
      res.on('close', () => clearTimeout(timer))
    })
    api = new HttpSession({ baseURL: server.url, retry: false })
  })
  after(async () => {
    await api.close()
    await server.close()
  })

  test('a short timeout fires on time while a request with a long one is in flight', async () => {
    const controller = new AbortController()
    const long = api.get('?ms=8000', { timeout: 20_000, signal: controller.signal })
    long.catch(() => {}) // settled below
    const started = performance.now()
    await assert.rejects(api.get('?ms=8000', { timeout: 150 }), (error: HttpError) => {
      assert.equal(error.code, 'WK_HTTP_TIMEOUT')
      assert.match(error.message, /after 150 ms/)
      return true
    })
    const elapsed = performance.now() - started
    assert.ok(elapsed >= 140 && elapsed < 4000, `timed out after ${elapsed} ms`)
    controller.abort()
    await assert.rejects(long, { code: 'WK_HTTP_CANCELLED' })
  })

  test('a streamed body may outlast the deadline: it stops at the headers', async () => {
    const res = await api.get<Readable>('trickle', { timeout: 150, responseType: 'stream' })
    const chunks: Buffer[] = []
    for await (const chunk of res.data) chunks.push(chunk as Buffer)
    assert.equal(Buffer.concat(chunks).toString(), 'first|second')
  })

  test('requests that answer in time resolve, and the session keeps serving after their deadlines pass', async () => {
    const results = await Promise.all(
      [20, 40, 60].map((ms) => api.get<string>(`?ms=${ms}`, { timeout: 200, responseType: 'text' })),
    )
    assert.deepEqual(
      results.map((r: HttpResponse<string>) => r.data),
      ['late', 'late', 'late'],
    )
    await sleep(250)
    const again = await api.get<string>('?ms=1', { timeout: 200, responseType: 'text' })
    assert.equal(again.data, 'late')
  })
})
