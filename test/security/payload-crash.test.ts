// Crashes (issue 10): hostile payloads and a throwing application listener must not take the server
// process down. Each server runs the README's forwarding example in a child process; after the attack
// the test asserts the process is alive and serves another client.
import assert from 'node:assert/strict'
import { type ChildProcess, fork } from 'node:child_process'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { Packr } from 'msgpackr'
import { ErrorCodes } from '../../src/errors.ts'
import { MessageClient, type PayloadCodecName } from '../../src/messaging/index.ts'
import { encodeFrame } from '../../src/messaging/wire/frame-writer.ts'
import { waitFor } from '../messaging/helpers.ts'
import { codec, Format, helloFrame, Kind, rawConnect } from './raw-client.ts'

const FIXTURE = fileURLToPath(new URL('./fixtures/forwarding-server.ts', import.meta.url))

type Child = { child: ChildProcess; port: number; reports: Record<string, unknown>[]; exited: () => boolean }
const children: ChildProcess[] = []
after(() => {
  for (const child of children) child.kill('SIGKILL')
})

async function startChild(config: {
  codec?: PayloadCodecName
  accept?: PayloadCodecName[]
  errorListener?: boolean
}): Promise<Child> {
  const child = fork(FIXTURE, [JSON.stringify(config)], {
    execPath: process.execPath,
    execArgv: [],
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  })
  children.push(child)
  let exited = false
  child.once('exit', () => (exited = true))
  const reports: Record<string, unknown>[] = []
  child.on('message', (m: Record<string, unknown>) => reports.push(m))
  await waitFor(
    () => reports.some((r) => typeof r.port === 'number') || exited,
    15_000,
    'the child listening',
  )
  const port = reports.find((r) => typeof r.port === 'number')!.port as number
  return { child, port, reports, exited: () => exited }
}

/** A raw client that says HELLO, then sends one 'chat' event whose payload is `body` in `format`. */
async function sendHostile(port: number, name: string, format: Format, body: Uint8Array): Promise<string[]> {
  const raw = await rawConnect(port)
  raw.send(helloFrame({}))
  await raw.next(Kind.WELCOME)
  raw.send(encodeFrame(codec, Kind.EVENT, format, { seq: 1, name, body }))
  await Promise.race([raw.closed, new Promise((r) => setTimeout(r, 1000))])
  raw.destroy()
  return raw.messages.filter((m) => m.kind === Kind.GOAWAY).map((m) => (m.body as { code: string }).code)
}

/** The server still serves: a fresh client gets an echo and a forwarded chat line from another. */
async function assertServing(target: Child): Promise<void> {
  assert.equal(target.exited(), false, 'the server process is alive')
  const url = `tcp://127.0.0.1:${target.port}`
  const a = await MessageClient.connect(url, { reconnect: false })
  const b = await MessageClient.connect(url, { reconnect: false })
  try {
    assert.deepEqual(await a.request('echo', { ok: 1 }, { timeout: 5000 }), { ok: 1 })
    const heard: unknown[] = []
    b.on('chat', (m: unknown) => heard.push(m))
    await a.emit('chat', { text: 'still here' })
    await waitFor(() => heard.length === 1, 5000, 'the forwarded chat line')
    assert.deepEqual(heard, [{ text: 'still here' }])
  } finally {
    await a.close()
    await b.close()
  }
  assert.equal(target.exited(), false, 'the server process is alive')
}

// uint64 2^63: 0xcf + 8 bytes. msgpackr decodes it as a BigInt by default, which JSON cannot encode.
const BIG_UINT64 = Buffer.from([0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0])
const BIG_IN_MAP = Buffer.concat([Buffer.from([0x81, 0xa1, 0x6e]), BIG_UINT64]) // { n: 2^63 }

function cyclicPayload(): Uint8Array {
  const cyclic: Record<string, unknown> = { text: 'loop' }
  cyclic.self = cyclic
  return new Packr({ structuredClone: true }).pack(cyclic)
}

describe('hostile payloads and throwing listeners', () => {
  test('a JSON server refuses a MessagePack payload with WK_PROTOCOL and keeps serving (BigInt uint64)', async () => {
    const server = await startChild({})
    const codes = await sendHostile(server.port, 'chat', Format.MSGPACK, BIG_IN_MAP)
    assert.deepEqual(codes, [ErrorCodes.PROTOCOL])
    await assertServing(server)
  })

  test('a MessagePack server refuses a uint64 beyond 2^53 with WK_PROTOCOL and keeps serving', async () => {
    const server = await startChild({ codec: 'msgpack' })
    const codes = await sendHostile(server.port, 'chat', Format.MSGPACK, BIG_IN_MAP)
    assert.deepEqual(codes, [ErrorCodes.PROTOCOL])
    await assertServing(server)
  })

  test('a MessagePack server refuses a cyclic structured-clone payload with WK_PROTOCOL and keeps serving', async () => {
    const server = await startChild({ codec: 'msgpack' })
    const codes = await sendHostile(server.port, 'chat', Format.MSGPACK, cyclicPayload())
    assert.deepEqual(codes, [ErrorCodes.PROTOCOL])
    await assertServing(server)
  })

  test('a 64-bit integer within 2^53 arrives as a number', async () => {
    const server = await startChild({ codec: 'msgpack' })
    const url = `tcp://127.0.0.1:${server.port}`
    const b = await MessageClient.connect(url, { reconnect: false })
    const heard: unknown[] = []
    b.on('chat', (m: unknown) => heard.push(m))
    // { n: 2^53 - 1 } as uint64
    const body = Buffer.from([0x81, 0xa1, 0x6e, 0xcf, 0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
    const codes = await sendHostile(server.port, 'chat', Format.MSGPACK, body)
    assert.deepEqual(codes, [])
    await waitFor(() => heard.length === 1, 5000, 'the forwarded line')
    assert.deepEqual(heard, [{ n: 2 ** 53 - 1 }])
    await b.close()
  })

  test('a listener that throws does not kill the process; without an error listener it goes to debuglog', async () => {
    const server = await startChild({})
    await sendHostile(server.port, 'boom', Format.JSON, Buffer.from('1'))
    await assertServing(server)
  })

  test('a listener that throws reaches the server’s error event with the peer attached', async () => {
    const server = await startChild({ errorListener: true })
    await sendHostile(server.port, 'boom', Format.JSON, Buffer.from('1'))
    await waitFor(() => server.reports.some((r) => r.error !== undefined), 5000, 'the error report')
    assert.deepEqual(
      server.reports.find((r) => r.error !== undefined),
      { error: 'application bug', peer: true },
    )
    await assertServing(server)
  })
})
