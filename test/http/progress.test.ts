import assert from 'node:assert/strict'
import { once } from 'node:events'
import type { Readable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { type HttpProgress, HttpSession } from '../../src/http/index.ts'
import { startHttpServer, type TestServer } from '../helpers/http-servers.ts'

const MiB = 1024 * 1024

describe('HttpSession progress and cancellation', () => {
  let server: TestServer
  let api: HttpSession
  const uploadsAborted: string[] = []

  before(async () => {
    server = await startHttpServer(async (req, res) => {
      const url = new URL(req.url ?? '/', 'http://x')
      if (url.pathname === '/upload') {
        let bytes = 0
        req.on('data', (chunk: Buffer) => {
          bytes += chunk.length
        })
        req.on('close', () => {
          if (!req.complete) uploadsAborted.push(url.search)
        })
        await once(req, 'end').catch(() => {})
        return res.end(String(bytes))
      }
      if (url.pathname === '/download') {
        const size = Number(url.searchParams.get('size'))
        const stall = url.searchParams.get('stall') === '1'
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size })
        const chunk = Buffer.alloc(64 * 1024, 1)
        let sent = 0
        while (sent < size && !res.destroyed) {
          const n = Math.min(chunk.length, size - sent)
          if (!res.write(chunk.subarray(0, n))) await once(res, 'drain').catch(() => {})
          sent += n
          if (stall && sent >= size / 2) return // hold the rest back until the client gives up
        }
        return res.end()
      }
      res.end()
    })
    api = new HttpSession({ baseURL: server.url, progressInterval: 0, retry: false })
  })
  after(async () => {
    await api.close()
    await server.close()
  })

  function assertMonotonic(events: HttpProgress[], total: number): void {
    assert.ok(events.length >= 2, `several reports (${events.length})`)
    for (let i = 1; i < events.length; i++) assert.ok(events[i].done >= events[i - 1].done)
    const last = events[events.length - 1]
    assert.equal(last.done, total)
    assert.equal(last.total, total)
  }

  test('onUploadProgress reports bytes sent up to the known total', async () => {
    const events: HttpProgress[] = []
    const body = Buffer.alloc(2 * MiB, 3)
    const res = await api.post('upload', {
      body,
      onUploadProgress: (p) => events.push(p),
      responseType: 'text',
    })
    assert.equal(res.data, String(2 * MiB))
    assertMonotonic(events, 2 * MiB)
  })

  test('onUploadProgress counts a multipart file as it streams', async () => {
    const events: HttpProgress[] = []
    const form = new FormData()
    form.append('file', new Blob([Buffer.alloc(MiB, 9)]), 'f.bin')
    const res = await api.post('upload', {
      multipart: form,
      onUploadProgress: (p) => events.push(p),
      responseType: 'text',
    })
    const total = events[events.length - 1].total ?? 0
    assert.ok(total > MiB, 'the total includes part headers')
    assert.equal(res.data, String(total))
    assertMonotonic(events, total)
  })

  test('onDownloadProgress reports bytes received against Content-Length', async () => {
    const events: HttpProgress[] = []
    const res = await api.get<Buffer>('download?size=1048576', { onDownloadProgress: (p) => events.push(p) })
    assert.equal(res.data.length, MiB)
    assertMonotonic(events, MiB)
  })

  test('progress is throttled to the interval, with a final report', async () => {
    const slow = new HttpSession({ baseURL: server.url, progressInterval: 60_000 })
    try {
      const events: HttpProgress[] = []
      await slow.get('download?size=2097152', { onDownloadProgress: (p) => events.push(p) })
      assert.ok(events.length <= 2, `at most the first and the final report (${events.length})`)
      assert.equal(events[events.length - 1].done, 2 * MiB)
    } finally {
      await slow.close()
    }
  })

  test('cancelling mid-upload rejects with WK_HTTP_CANCELLED and the server sees an aborted request', async () => {
    const controller = new AbortController()
    let sent = 0
    async function* slowBody(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 100; i++) {
        yield Buffer.alloc(16 * 1024, 1)
        await sleep(20)
      }
    }
    const pending = api.post('upload?cancel=mid', {
      body: slowBody(),
      signal: controller.signal,
      onUploadProgress: (p) => {
        sent = p.done
        if (p.done >= 64 * 1024) controller.abort()
      },
    })
    await assert.rejects(pending, { code: 'WK_HTTP_CANCELLED' })
    assert.ok(sent >= 64 * 1024 && sent < 100 * 16 * 1024, `cancelled part way (${sent} bytes)`)
    for (let i = 0; i < 50 && !uploadsAborted.includes('?cancel=mid'); i++) await sleep(20)
    assert.ok(uploadsAborted.includes('?cancel=mid'), 'the server saw the upload cut short')
  })

  test('cancelling mid-download rejects a buffered request and errors a streamed body with WK_HTTP_CANCELLED', async () => {
    const controller = new AbortController()
    let received = 0
    const pending = api.get('download?size=4194304&stall=1', {
      signal: controller.signal,
      onDownloadProgress: (p) => {
        received = p.done
        if (p.done > 0) controller.abort()
      },
    })
    await assert.rejects(pending, { code: 'WK_HTTP_CANCELLED' })
    assert.ok(received > 0 && received < 4 * MiB)

    const streamController = new AbortController()
    const res = await api.get<Readable>('download?size=4194304&stall=1', {
      responseType: 'stream',
      signal: streamController.signal,
    })
    let streamed = 0
    await assert.rejects(
      (async () => {
        for await (const chunk of res.data) {
          streamed += (chunk as Buffer).length
          if (streamed >= MiB) streamController.abort()
        }
      })(),
      { code: 'WK_HTTP_CANCELLED' },
    )
    assert.ok(streamed >= MiB && streamed < 4 * MiB)
  })

  test('destroying a streamed body early releases the request', async () => {
    const res = await api.get<Readable>('download?size=4194304&stall=1', { responseType: 'stream' })
    for await (const _chunk of res.data) break
    assert.equal(res.data.destroyed, true)
    const next = await api.get<Buffer>('download?size=1000')
    assert.equal(next.data.length, 1000)
  })
})
