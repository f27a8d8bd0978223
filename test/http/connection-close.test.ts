// Regression for undici issue #5360 (fixed in undici 8): a response delimited by Connection: close (HTTP/1.0 style)
// whose FIN arrives while the body is paused by backpressure crashed the process with an uncatchable
// `assert(!this.paused)` in undici 7's Parser.finish. Served by a raw HTTP/1.0 origin and by `python3 -m http.server`,
// read slowly through responseType 'stream' and through download(), repeated; every body must arrive whole.
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { HttpSession } from '../../src/http/index.ts'
import { type RealServer, startPython } from './real-servers.ts'

const SIZE = 4 * 1024 * 1024
const ROUNDS = 8

const body = randomBytes(SIZE)
const digest = createHash('sha256').update(body).digest('hex')

/** Reads a stream slowly (a pause every few chunks) and returns the SHA-256 of what it read. */
async function slowDigest(stream: Readable): Promise<{ hex: string; bytes: number }> {
  const hash = createHash('sha256')
  let bytes = 0
  let chunks = 0
  for await (const chunk of stream) {
    hash.update(chunk as Buffer)
    bytes += (chunk as Buffer).length
    if (++chunks % 4 === 0) await sleep(1)
  }
  return { hex: hash.digest('hex'), bytes }
}

describe('a Connection: close body read under backpressure arrives whole', () => {
  let raw: Server
  let rawURL: string
  let python: RealServer
  let dir: string
  const sockets = new Set<Socket>()

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wirekit-close-'))
    writeFileSync(join(dir, 'big.bin'), body)
    // HTTP/1.0 origin: the whole body in one write, then FIN at once. `/nolength` delimits the body by the close only.
    raw = createServer((socket) => {
      sockets.add(socket)
      socket.once('close', () => sockets.delete(socket))
      let head = ''
      socket.on('data', (data) => {
        head += data.toString('latin1')
        if (!head.includes('\r\n\r\n')) return
        socket.removeAllListeners('data')
        const length = head.startsWith('GET /nolength') ? '' : `Content-Length: ${SIZE}\r\n`
        socket.write(
          `HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n${length}Connection: close\r\n\r\n`,
        )
        socket.end(body)
      })
    })
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve))
    rawURL = `http://127.0.0.1:${(raw.address() as { port: number }).port}/`
    python = await startPython(dir)
  })
  after(async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise((resolve) => raw.close(resolve))
    await python.close()
    await rm(dir, { recursive: true, force: true })
  })

  for (const [name, path] of [
    ['raw HTTP/1.0 origin, Content-Length', 'withlength'],
    ['raw HTTP/1.0 origin, body delimited by the close', 'nolength'],
  ] as const) {
    test(`responseType 'stream' from a ${name}, read slowly, ${ROUNDS} times`, async () => {
      const api = new HttpSession()
      try {
        for (let round = 0; round < ROUNDS; round++) {
          const res = await api.get<Readable>(`${rawURL}${path}`, { responseType: 'stream' })
          const read = await slowDigest(res.data)
          assert.equal(read.bytes, SIZE, `round ${round}`)
          assert.equal(read.hex, digest, `round ${round}`)
        }
      } finally {
        await api.close()
      }
    })
  }

  test(`responseType 'stream' from python3 -m http.server, read slowly, ${ROUNDS} times`, async () => {
    const api = new HttpSession()
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const res = await api.get<Readable>(`${python.url}big.bin`, { responseType: 'stream' })
        const read = await slowDigest(res.data)
        assert.equal(read.hex, digest, `round ${round}`)
      }
    } finally {
      await api.close()
    }
  })

  for (const [name, base] of [
    ['a raw HTTP/1.0 origin', () => `${rawURL}withlength`],
    ['python3 -m http.server', () => `${python.url}big.bin`],
  ] as const) {
    test(`download() from ${name} completes and renames the file, ${ROUNDS} times`, async () => {
      const api = new HttpSession()
      try {
        for (let round = 0; round < ROUNDS; round++) {
          const to = join(dir, `out-${round}.bin`)
          const result = await api.download(base(), { to })
          assert.equal(result.bytes, SIZE)
          assert.equal(createHash('sha256').update(readFileSync(to)).digest('hex'), digest, `round ${round}`)
          await rm(to)
        }
      } finally {
        await api.close()
      }
    })
  }
})
