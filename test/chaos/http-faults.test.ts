// HTTP faults on HttpSession against a hostile raw-TCP origin: resets, stalls, truncated and lying bodies,
// redirect loops and oversized headers. Each must end in an HttpError with its stable code, within bounds,
// and a download cut mid-way must never leave a file at its target path.
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { ErrorCodes, HttpError } from '../../src/errors.ts'
import { HttpSession } from '../../src/http/index.ts'
import { head, type RawOrigin, rawOrigin, reset } from './raw-http.ts'

const BODY = 256 * 1024

/** Rejects unless `promise` fails with an HttpError of `code`; returns the error. */
async function failsWith(promise: Promise<unknown>, code: string): Promise<HttpError> {
  let caught: unknown
  try {
    await promise
  } catch (error) {
    caught = error
  }
  assert.ok(caught instanceof HttpError, `expected an HttpError, got ${String(caught)}`)
  assert.equal(caught.code, code, caught.message)
  return caught
}

describe('HttpSession under hostile origins', () => {
  let origin: RawOrigin
  let api: HttpSession
  let dir: string
  const stalled: Array<{ destroy(): void }> = []

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wirekit-chaos-http-'))
    origin = await rawOrigin((socket, request) => {
      const path = request.path.split('?')[0]
      switch (path) {
        case '/ok':
          socket.write(`${head('200 OK', { 'content-length': 2, 'content-type': 'text/plain' })}ok`)
          return
        case '/reset-before-response':
          reset(socket)
          return
        case '/reset-mid-body':
          socket.write(head('200 OK', { 'content-length': BODY, etag: '"r"' }))
          socket.write(Buffer.alloc(BODY / 4, 1), () => setTimeout(() => reset(socket), 20))
          return
        case '/stall-before-headers':
          stalled.push(socket)
          return
        case '/stall-mid-body':
          stalled.push(socket)
          socket.write(head('200 OK', { 'content-length': BODY, etag: '"s"' }))
          socket.write(Buffer.alloc(1024, 2))
          return
        case '/chunked-truncated':
          socket.write(head('200 OK', { 'transfer-encoding': 'chunked', etag: '"c"' }))
          socket.write(`4000\r\n${'y'.repeat(8000)}`, () => setTimeout(() => socket.end(), 20))
          return
        case '/chunked-no-last-chunk':
          socket.write(head('200 OK', { 'transfer-encoding': 'chunked', etag: '"c"' }))
          socket.end('5\r\nhello\r\n')
          return
        case '/chunked-bad-size':
          socket.write(head('200 OK', { 'transfer-encoding': 'chunked' }))
          socket.end('zz\r\nhello\r\n0\r\n\r\n')
          return
        case '/length-short':
          socket.end(`${head('200 OK', { 'content-length': 100, etag: '"l"' })}only 19 bytes here.`)
          return
        case '/length-long':
          // Five bytes of body, then a forged response: it must not be taken as the answer to the next request.
          socket.write(
            head('200 OK', { 'content-length': 5 }) +
              'helloHTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nforged',
          )
          return
        case '/length-invalid':
          socket.end(`${head('200 OK', { 'content-length': 'abc' })}hello`)
          return
        case '/length-conflicting':
          socket.end(`${head('200 OK', {}, 'content-length: 5\r\ncontent-length: 7\r\n')}hello`)
          return
        case '/redirect-forever':
          // A new URL every time, so no simple "same URL" check can stop it: only the redirect limit can.
          socket.write(
            head('302 Found', {
              location: `/redirect-forever?n=${origin.requests.length}`,
              'content-length': 0,
            }),
          )
          return
        case '/huge-headers':
          socket.end(`${head('200 OK', { 'x-big': 'y'.repeat(64 * 1024), 'content-length': 2 })}ok`)
          return
        case '/endless-headers': {
          // Header lines for as long as the client listens (bounded here at ~4 MB so the test always ends).
          socket.write('HTTP/1.1 200 OK\r\n')
          let lines = 0
          const timer = setInterval(() => {
            if (socket.destroyed || lines++ >= 500) {
              clearInterval(timer)
              socket.destroy()
              return
            }
            socket.write(`x-h${lines}: ${'z'.repeat(8000)}\r\n`)
          }, 1)
          return
        }
        default:
          socket.end(head('404 Not Found', { 'content-length': 0 }))
      }
    })
    api = new HttpSession({ baseURL: origin.url, retry: false, timeout: 5000, bodyTimeout: 600 })
  })

  after(async () => {
    for (const socket of stalled) socket.destroy()
    await api.close()
    await origin.close()
    await rm(dir, { recursive: true, force: true })
  })

  test('a connection reset before any response rejects with WK_HTTP_NETWORK', async () => {
    await failsWith(api.get('reset-before-response'), ErrorCodes.HTTP_NETWORK)
  })

  test('with retries on, a GET reset every time is tried limit + 1 times, then rejects with WK_HTTP_NETWORK', async () => {
    const retrying = new HttpSession({
      baseURL: origin.url,
      retry: { limit: 2, initialDelay: 5, maxDelay: 20 },
    })
    try {
      const before = origin.requests.filter((r) => r.path === '/reset-before-response').length
      await failsWith(retrying.get('reset-before-response'), ErrorCodes.HTTP_NETWORK)
      const attempts = origin.requests.filter((r) => r.path === '/reset-before-response').length - before
      assert.equal(attempts, 3)
    } finally {
      await retrying.close()
    }
  })

  test('a connection reset mid-body rejects with WK_HTTP_BODY', async () => {
    await failsWith(api.get('reset-mid-body'), ErrorCodes.HTTP_BODY)
  })

  test('an origin that stalls before the headers rejects with WK_HTTP_TIMEOUT when the timeout fires', async () => {
    const started = Date.now()
    await failsWith(api.get('stall-before-headers', { timeout: 300 }), ErrorCodes.HTTP_TIMEOUT)
    const elapsed = Date.now() - started
    assert.ok(elapsed >= 250 && elapsed < 4000, `timed out after ${elapsed} ms`)
  })

  test('an origin that stalls mid-body rejects with WK_HTTP_TIMEOUT when the timeout fires', async () => {
    const started = Date.now()
    await failsWith(api.get('stall-mid-body', { timeout: 300 }), ErrorCodes.HTTP_TIMEOUT)
    assert.ok(Date.now() - started < 4000)
  })

  test('a chunked body cut before its chunk ends, or without its last chunk, rejects with WK_HTTP_BODY', async () => {
    await failsWith(api.get('chunked-truncated'), ErrorCodes.HTTP_BODY)
    await failsWith(api.get('chunked-no-last-chunk'), ErrorCodes.HTTP_BODY)
  })

  test('a chunk size that is not hex rejects with a typed error, not a crash', async () => {
    await failsWith(api.get('chunked-bad-size'), ErrorCodes.HTTP_BODY)
  })

  test('a body shorter than Content-Length rejects with WK_HTTP_BODY', async () => {
    await failsWith(api.get('length-short'), ErrorCodes.HTTP_BODY)
  })

  test('bytes past Content-Length are not taken as the next response', async () => {
    const first = await api.get('length-long', { responseType: 'text' })
    assert.equal(first.data, 'hello')
    for (let i = 0; i < 3; i++) {
      const next = await api.get('ok', { responseType: 'text' })
      assert.equal(next.data, 'ok')
    }
  })

  test('an unparsable or conflicting Content-Length rejects with a typed error', async () => {
    await failsWith(api.get('length-invalid'), ErrorCodes.HTTP_NETWORK)
    await failsWith(api.get('length-conflicting'), ErrorCodes.HTTP_BODY)
  })

  test('an endless redirect chain stops at maxRedirects with WK_HTTP_TOO_MANY_REDIRECTS', async () => {
    const before = origin.requests.length
    await failsWith(api.get('redirect-forever', { maxRedirects: 4 }), ErrorCodes.HTTP_TOO_MANY_REDIRECTS)
    const followed = origin.requests.length - before
    assert.ok(followed >= 2 && followed <= 5, `${followed} requests for maxRedirects 4`)
  })

  test('a 64 KB header block rejects with WK_HTTP_HEADERS_TOO_LARGE', async () => {
    await failsWith(api.get('huge-headers'), ErrorCodes.HTTP_HEADERS_TOO_LARGE)
  })

  test('an endless header stream is cut at maxHeaderSize with WK_HTTP_HEADERS_TOO_LARGE', async () => {
    const started = Date.now()
    await failsWith(api.get('endless-headers'), ErrorCodes.HTTP_HEADERS_TOO_LARGE)
    // 500 lines at one per ms would take ~0.5 s or more: the client gave up long before they were all sent.
    assert.ok(Date.now() - started < 3000)
  })

  const cuts = [
    ['reset-mid-body', ErrorCodes.HTTP_BODY],
    ['stall-mid-body', ErrorCodes.HTTP_TIMEOUT],
    ['chunked-truncated', ErrorCodes.HTTP_BODY],
    ['chunked-no-last-chunk', ErrorCodes.HTTP_BODY],
    ['length-short', ErrorCodes.HTTP_BODY],
  ] as const

  for (const [path, code] of cuts) {
    test(`a download from ${path} rejects with ${code} and leaves nothing at the target path`, async () => {
      const to = join(dir, `${path}.bin`)
      await failsWith(api.download(path, { to }), code)
      assert.equal(existsSync(to), false, 'a file exists at the target path')
      const left = (await readdir(dir)).filter((name) => name.startsWith(path))
      assert.deepEqual(left, [], `left behind: ${left.join(', ')}`)
    })

    test(`a resumable download from ${path} keeps only a suffixed partial file`, async () => {
      const to = join(dir, `${path}-resumable.bin`)
      await failsWith(api.download(path, { to, resume: true }), code)
      assert.equal(existsSync(to), false, 'a file exists at the target path')
      const partial = `${to}.download`
      if (existsSync(partial)) assert.ok((await stat(partial)).size < BODY, 'the partial file looks complete')
    })
  }

  test('after every fault the session still serves a well-behaved origin', async () => {
    const response = await api.get('ok', { responseType: 'text' })
    assert.equal(response.status, 200)
    assert.equal(response.data, 'ok')
  })
})
