// HELLO credentials (issue 10): capped in size and nesting before anything parses them, so a megabyte
// of nested JSON per connection cannot make every other client wait.
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { ErrorCodes } from '../../src/errors.ts'
import { Format } from '../../src/messaging/wire/envelope.ts'
import { encodeFrame } from '../../src/messaging/wire/frame-writer.ts'
import { startServer } from '../messaging/helpers.ts'
import { codec, helloFrame, Kind, rawConnect } from './raw-client.ts'

const cleanup: (() => unknown)[] = []
after(async () => {
  for (const fn of cleanup.reverse()) await fn()
})

async function answerTo(port: number, frame: Buffer): Promise<{ kind: number; code?: string }> {
  const raw = await rawConnect(port)
  cleanup.push(() => raw.destroy())
  raw.send(frame)
  await Promise.race([raw.closed, raw.next(Kind.WELCOME, 5000).catch(() => {})])
  const first = raw.messages[0]
  if (first === undefined) throw new Error('no answer')
  return { kind: first.kind, code: (first.body as { code?: string }).code }
}

describe('HELLO caps', () => {
  let calls = 0
  const serverPromise = startServer({
    authenticate: (credentials) => {
      calls++
      return credentials !== undefined
    },
  })
  after(async () => (await serverPromise).server.close())

  test('a megabyte of nested JSON credentials is cut by the frame cap before login, unparsed', async () => {
    const { port } = await serverPromise
    calls = 0
    const nested = `${'['.repeat(500_000)}${']'.repeat(500_000)}`
    const frame = encodeFrame(codec, Kind.HELLO, Format.JSON, {
      body: `{"v":1,"lastReceived":0,"credentials":${nested}}`,
    })
    // maxHandshakeFrameLength (64 KiB) refuses it as soon as its length is read.
    assert.deepEqual(await answerTo(port, frame), { kind: Kind.GOAWAY, code: ErrorCodes.FRAME_TOO_LARGE })
    assert.equal(calls, 0)
  })

  test('a 32 KiB HELLO (under the frame cap, over maxHelloLength) is refused with WK_PROTOCOL unparsed', async () => {
    const { port } = await serverPromise
    calls = 0
    const nested = `${'['.repeat(16_000)}${']'.repeat(16_000)}`
    const frame = encodeFrame(codec, Kind.HELLO, Format.JSON, {
      body: `{"v":1,"lastReceived":0,"credentials":${nested}}`,
    })
    assert.ok(frame.length > 16 * 1024 && frame.length < 64 * 1024)
    assert.deepEqual(await answerTo(port, frame), { kind: Kind.GOAWAY, code: ErrorCodes.PROTOCOL })
    assert.equal(calls, 0)
  })

  test('a small HELLO nested 100 deep is refused with WK_PROTOCOL', async () => {
    const { port } = await serverPromise
    calls = 0
    const frame = helloFrame({ credentials: JSON.parse(`${'['.repeat(100)}1${']'.repeat(100)}`) })
    assert.ok(frame.length < 1024)
    assert.deepEqual(await answerTo(port, frame), { kind: Kind.GOAWAY, code: ErrorCodes.PROTOCOL })
    assert.equal(calls, 0)
  })

  test('credentials of 8 KiB with brackets inside strings are accepted', async () => {
    const { port } = await serverPromise
    const frame = helloFrame({
      credentials: { jwt: 'x'.repeat(8000), note: '[[[[[[[[[[{{{{{{{{{{'.repeat(10) },
    })
    assert.equal((await answerTo(port, frame)).kind, Kind.WELCOME)
  })
})
