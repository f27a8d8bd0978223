// A tls:// client that turns certificate checks off with nothing in their place (no pins, no verify)
// is told so once per process: a one-line process warning (and debuglog).
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { MessageClient, MessageServer } from '../../src/messaging/index.ts'
import { makeCerts } from '../helpers/certs.ts'

const warnings: Error[] = []
const onWarning = (warning: Error): void => {
  warnings.push(warning)
}
let server: MessageServer
let url: string
let certs: ReturnType<typeof makeCerts>

before(async () => {
  certs = makeCerts()
  server = new MessageServer()
  server.handle('echo', (data) => data)
  const address = (await server.listen({ port: 0, host: '127.0.0.1', tls: certs.selfSigned })) as {
    port: number
  }
  url = `tls://127.0.0.1:${address.port}`
  process.on('warning', onWarning)
})

after(async () => {
  process.off('warning', onWarning)
  await server.close()
})

function unverified(): Error[] {
  return warnings.filter((w) => (w as Error & { code?: string }).code === 'WK_TLS_UNVERIFIED')
}

test('rejectUnauthorized: false with pins gives no warning', async () => {
  const client = await MessageClient.connect(url, {
    reconnect: false,
    tls: { rejectUnauthorized: false, pins: [certs.pinOf(certs.selfSigned.cert)] },
  })
  assert.equal(await client.request('echo', 1), 1)
  await client.close()
  await new Promise((r) => setImmediate(r))
  assert.equal(unverified().length, 0)
})

test('rejectUnauthorized: false without pins or verify warns once per process, with code WK_TLS_UNVERIFIED', async () => {
  for (let i = 0; i < 2; i++) {
    const client = await MessageClient.connect(url, { reconnect: false, tls: { rejectUnauthorized: false } })
    assert.equal(await client.request('echo', i), i)
    await client.close()
  }
  await new Promise((r) => setImmediate(r))
  assert.equal(unverified().length, 1)
  assert.match(unverified()[0]!.message, /rejectUnauthorized: false/)
})
