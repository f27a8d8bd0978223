import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, beforeEach, describe, test } from 'node:test'
import { type HttpProgress, HttpSession } from '../../src/http/index.ts'
import { startHttpServer, type TestServer } from '../helpers/http-servers.ts'

const SIZE = 1024 * 1024

describe('HttpSession.download', () => {
  let server: TestServer
  let api: HttpSession
  let dir: string
  let content = randomBytes(SIZE)
  let etag = '"v1"'
  let cutNext = 0
  const ranges: Array<string | undefined> = []

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wirekit-download-'))
    server = await startHttpServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x')
      if (url.pathname === '/liar') {
        res.writeHead(200, { 'content-length': 1000 })
        res.write(Buffer.alloc(500))
        setTimeout(() => req.socket.destroy(), 30)
        return
      }
      if (url.pathname === '/stall') {
        res.writeHead(200, { 'content-length': SIZE, etag })
        res.write(content.subarray(0, 64 * 1024))
        return // never finishes: the client cancels
      }
      ranges.push(req.headers.range)
      let start = 0
      const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '')
      if (range !== null && req.headers['if-range'] === etag) start = Number(range[1])
      const body = content.subarray(start)
      const headers: Record<string, string | number> = { etag, 'content-length': body.length }
      if (start > 0) headers['content-range'] = `bytes ${start}-${SIZE - 1}/${SIZE}`
      res.writeHead(start > 0 ? 206 : 200, headers)
      if (cutNext > 0) {
        cutNext--
        res.write(body.subarray(0, body.length / 2))
        setTimeout(() => req.socket.destroy(), 50)
        return
      }
      res.end(body)
    })
    api = new HttpSession({ baseURL: server.url, retry: false })
  })
  beforeEach(() => {
    content = randomBytes(SIZE)
    etag = `"${content.subarray(0, 6).toString('hex')}"`
    cutNext = 0
    ranges.length = 0
  })
  after(async () => {
    await api.close()
    await server.close()
    await rm(dir, { recursive: true, force: true })
  })

  test('download writes the whole body to `to`, reports progress and leaves no temporary file', async () => {
    const to = join(dir, 'whole.bin')
    const events: HttpProgress[] = []
    const result = await api.download('file', { to, onProgress: (p) => events.push(p) })
    assert.equal(result.bytes, SIZE)
    assert.equal(result.resumedFrom, 0)
    assert.deepEqual(await readFile(to), content)
    assert.equal(existsSync(`${to}.download`), false)
    assert.equal(events.at(-1)?.done, SIZE)
    assert.equal(events.at(-1)?.total, SIZE)
  })

  test('a body shorter than Content-Length fails with WK_HTTP_BODY and leaves no file behind', async () => {
    const to = join(dir, 'short.bin')
    await assert.rejects(api.download('liar', { to }), { code: 'WK_HTTP_BODY' })
    assert.equal(existsSync(to), false)
    assert.equal(existsSync(`${to}.download`), false)
  })

  test('after a cut connection, resume continues with Range + If-Range and the file is complete', async () => {
    const to = join(dir, 'resumed.bin')
    cutNext = 1
    await assert.rejects(api.download('file', { to, resume: true }), { code: 'WK_HTTP_BODY' })
    assert.equal(existsSync(to), false, 'no file that looks complete')
    assert.ok(existsSync(`${to}.download`), 'the partial file is kept for resuming')
    const events: HttpProgress[] = []
    const result = await api.download('file', { to, resume: true, onProgress: (p) => events.push(p) })
    assert.ok(result.resumedFrom > 0 && result.resumedFrom < SIZE, `resumed from ${result.resumedFrom}`)
    assert.equal(result.response.status, 206)
    assert.equal(ranges.at(-1), `bytes=${result.resumedFrom}-`)
    assert.deepEqual(await readFile(to), content)
    assert.equal(existsSync(`${to}.download`), false)
    assert.equal(events.at(-1)?.done, SIZE, 'progress counts the bytes already on disk')
  })

  test('when the resource changed since the partial download, it starts over', async () => {
    const to = join(dir, 'changed.bin')
    cutNext = 1
    await assert.rejects(api.download('file', { to, resume: true }), { code: 'WK_HTTP_BODY' })
    content = randomBytes(SIZE)
    etag = '"v2"'
    const result = await api.download('file', { to, resume: true })
    assert.equal(result.resumedFrom, 0)
    assert.equal(result.response.status, 200)
    assert.deepEqual(await readFile(to), content)
  })

  test('a cancelled download rejects with WK_HTTP_CANCELLED and leaves no complete-looking file', async () => {
    const to = join(dir, 'cancelled.bin')
    const controller = new AbortController()
    const pending = api.download('stall', {
      to,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.done > 0) controller.abort()
      },
    })
    await assert.rejects(pending, { code: 'WK_HTTP_CANCELLED' })
    assert.equal(existsSync(to), false)
    assert.equal(existsSync(`${to}.download`), false)
  })

  test('a cancelled resumable download keeps only the suffixed partial file', async () => {
    const to = join(dir, 'cancelled-resumable.bin')
    const controller = new AbortController()
    const pending = api.download('stall', {
      to,
      resume: true,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.done > 0) controller.abort()
      },
    })
    await assert.rejects(pending, { code: 'WK_HTTP_CANCELLED' })
    assert.equal(existsSync(to), false)
    assert.ok(existsSync(`${to}.download`))
  })
})
