// Errors (issue 10): one code, one class, everywhere; codes read off the wire are checked; a session
// store failure is reported instead of silently becoming a new session.
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import * as errors from '../../src/errors.ts'
import { ERROR_CLASSES, ErrorCodes, errorFor, isWirekitError } from '../../src/errors.ts'
import { MemoryAdapter, MemorySessionStore, MessageClient } from '../../src/messaging/index.ts'
import { Format } from '../../src/messaging/wire/envelope.ts'
import { encodeFrame } from '../../src/messaging/wire/frame-writer.ts'
import { nextEvent, startServer } from '../messaging/helpers.ts'
import { codec, Kind } from './raw-client.ts'

const SRC = fileURLToPath(new URL('../../src/', import.meta.url))
const cleanup: (() => unknown)[] = []
after(async () => {
  for (const fn of cleanup.reverse()) await fn()
})

function sources(dir: string): string[] {
  const out: string[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...sources(path))
    else if (entry.name.endsWith('.ts')) out.push(path)
  }
  return out
}

describe('one code, one class', () => {
  test('every code has exactly one class, and errorFor builds it', () => {
    assert.deepEqual(Object.keys(ERROR_CLASSES).sort(), Object.values(ErrorCodes).sort())
    for (const code of Object.values(ErrorCodes)) {
      const error = errorFor(code, 'm')
      assert.ok(error instanceof ERROR_CLASSES[code], code)
      assert.equal(error.code, code)
    }
  })

  test('every error src/ constructs with a literal code uses that code’s class', () => {
    const classes = errors as unknown as Record<string, unknown>
    const wrong: string[] = []
    let seen = 0
    for (const file of sources(SRC)) {
      const text = readFileSync(file, 'utf8')
      for (const m of text.matchAll(/new (\w*Error)\(\s*ErrorCodes\.(\w+)/g)) {
        seen++
        const code = (ErrorCodes as Record<string, string>)[m[2]!] as keyof typeof ERROR_CLASSES
        if (classes[m[1]!] !== ERROR_CLASSES[code])
          wrong.push(`${file.slice(SRC.length)}: ${m[1]} with ${code}`)
      }
    }
    assert.ok(seen > 50, `scanned ${seen} constructions`)
    assert.deepEqual(wrong, [])
  })
})

describe('codes from the wire, and store failures', () => {
  test('a GOAWAY code the client does not know becomes WK_REMOTE_ERROR with the code kept as remoteCode', async () => {
    const net = await import('node:net')
    const server = net.createServer((socket) => {
      socket.on('error', () => {})
      socket.once('data', () => {
        const body = JSON.stringify({ code: 'WK_NOT_A_CODE', message: 'bye', reconnect: false })
        socket.end(encodeFrame(codec, Kind.GOAWAY, Format.JSON, { body }))
      })
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    cleanup.push(() => new Promise((r) => server.close(r)))
    const port = (server.address() as { port: number }).port
    await assert.rejects(MessageClient.connect(`tcp://127.0.0.1:${port}`, { reconnect: false }), (e) => {
      assert.ok(isWirekitError(e, ErrorCodes.REMOTE_ERROR), String(e))
      assert.equal((e as { remoteCode?: string }).remoteCode, 'WK_NOT_A_CODE')
      return true
    })
  })

  test('a GOAWAY with a known code arrives as that code’s class', async () => {
    const { server, url } = await startServer()
    const client = await MessageClient.connect(url, { reconnect: false })
    const closed = nextEvent<Error>(client, 'close')
    await server.close()
    const reason = await closed
    assert.ok(isWirekitError(reason, ErrorCodes.SERVER_CLOSING), String(reason))
    assert.ok(reason instanceof errors.ClosedError)
  })

  test('a session store that fails a claim is reported on the server’s error event, and the client gets a new session', async () => {
    class FailingStore extends MemorySessionStore {
      override claim(): never {
        throw new Error('store down')
      }
    }
    const { server, url } = await startServer({
      adapter: new MemoryAdapter(new FailingStore()),
      retention: 5000,
    })
    cleanup.push(() => server.close())
    const reported: Error[] = []
    server.on('error', (e: Error) => reported.push(e))
    const client = await MessageClient.connect(url, { reconnect: { initialDelay: 10, maxDelay: 50 } })
    cleanup.push(() => client.close())
    const id = client.sessionId!
    const lost = nextEvent(client, 'sessionLost')
    ;(server.peers.get(id) as unknown as { conn: { close(e?: Error): void } }).conn.close(new Error('cut'))
    await lost
    assert.notEqual(client.sessionId, id)
    assert.equal(reported.length, 1)
    assert.ok(isWirekitError(reported[0], ErrorCodes.SESSION_STORE_FAILED), String(reported[0]))
    assert.match(reported[0]!.message, /store down/)
  })
})
