// The read queue of AsyncSocket over real loopback sockets: each read kind, their interleaving, any
// split of the incoming bytes, reads queued before the connection exists, and read backpressure.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { after, describe, test } from 'node:test'
import { isWirekitError } from '../../src/errors.ts'
import { AsyncSocket } from '../../src/socket/index.ts'
import { pairWithRaw, Resources, rawServer, within } from './helpers.ts'

const resources = new Resources()
after(() => resources.closeAll())

describe('AsyncSocket reads', () => {
  test('read() resolves with whatever bytes arrived, at least one', async () => {
    const { client, peer } = await pairWithRaw(resources)
    peer.write('hello')
    const data = await within(client.read(), 2000, 'read()')
    assert.ok(data.length >= 1)
    let text = data.toString()
    while (text.length < 5) text += (await within(client.read(), 2000, 'read()')).toString()
    assert.equal(text, 'hello')
  })

  test('read({ length }) resolves with exactly that many bytes and leaves the rest buffered', async () => {
    const { client, peer } = await pairWithRaw(resources)
    peer.write('abcdefgh')
    assert.equal((await within(client.read({ length: 3 }), 2000, 'read')).toString(), 'abc')
    assert.equal((await within(client.read({ length: 5 }), 2000, 'read')).toString(), 'defgh')
  })

  test('read({ until }) resolves up to and including the delimiter', async () => {
    const { client, peer } = await pairWithRaw(resources)
    peer.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
    assert.equal((await client.read({ until: '\r\n' })).toString(), 'GET / HTTP/1.1\r\n')
    assert.equal((await client.read({ until: '\r\n' })).toString(), 'Host: x\r\n')
    assert.equal((await client.read({ until: Buffer.from('\r\n') })).toString(), '\r\n')
  })

  test('reads of different kinds queued together complete in order without losing or reordering a byte', async () => {
    const { client, peer } = await pairWithRaw(resources)
    const reads = [
      client.read({ length: 4 }),
      client.read({ until: '\n' }),
      client.read({ length: 2 }),
      client.read({ until: '||' }),
      client.read({ length: 1 }),
    ]
    peer.write('HEADline one\nXYpart||Z')
    const got = (await within(Promise.all(reads), 2000, 'reads')).map(String)
    assert.deepEqual(got, ['HEAD', 'line one\n', 'XY', 'part||', 'Z'])
  })

  test('a stream written one byte at a time gives the same results as one chunk', async () => {
    const { client, peer } = await pairWithRaw(resources)
    const message = 'len:0005hello\r\nmore\r\n'
    const reads = Promise.all([
      client.read({ until: ':' }),
      client.read({ length: 4 }),
      client.read({ length: 5 }),
      client.read({ until: '\r\n' }),
      client.read({ until: '\r\n' }),
    ])
    for (const byte of Buffer.from(message)) {
      peer.write(Buffer.of(byte))
      await new Promise((resolve) => setImmediate(resolve))
    }
    assert.deepEqual((await within(reads, 5000, 'reads')).map(String), [
      'len:',
      '0005',
      'hello',
      '\r\n',
      'more\r\n',
    ])
  })

  test('a delimiter split across two chunks is found', async () => {
    const { client, peer } = await pairWithRaw(resources)
    const line = client.read({ until: '\r\n' })
    peer.write('abc\r')
    await new Promise((resolve) => setTimeout(resolve, 20))
    peer.write('\ndef')
    assert.equal((await within(line, 2000, 'line')).toString(), 'abc\r\n')
    assert.equal((await client.read({ length: 3 })).toString(), 'def')
  })

  test('many messages in one chunk are split by queued reads', async () => {
    const { client, peer } = await pairWithRaw(resources)
    const count = 500
    const all = Buffer.concat(
      Array.from({ length: count }, (_, i) => Buffer.from(`msg-${String(i).padStart(4, '0')}\n`)),
    )
    peer.write(all)
    for (let i = 0; i < count; i++) {
      const line = await within(client.read({ until: '\n', maxLength: 64 }), 2000, `line ${i}`)
      assert.equal(line.toString(), `msg-${String(i).padStart(4, '0')}\n`)
    }
  })

  test('read({ until, maxLength }) rejects with WK_READ_MAX_LENGTH when no delimiter comes within maxLength', async () => {
    const { client, peer } = await pairWithRaw(resources)
    peer.write('0123456789abcdef\n')
    await assert.rejects(client.read({ until: '\n', maxLength: 8, tag: 'line' }), (error) => {
      assert.ok(isWirekitError(error, 'WK_READ_MAX_LENGTH'))
      assert.equal(error.tag, 'line')
      return true
    })
    // The bytes stay: a later read sees them from the start.
    assert.equal((await client.read({ until: '\n', maxLength: 64 })).toString(), '0123456789abcdef\n')
  })

  test('read({ maxLength }) without a delimiter returns at most that many bytes', async () => {
    const { client, peer } = await pairWithRaw(resources)
    peer.write('abcdefgh')
    let got = ''
    while (got.length < 8) {
      const part = await within(client.read({ maxLength: 3 }), 2000, 'read')
      assert.ok(part.length >= 1 && part.length <= 3)
      got += part.toString()
    }
    assert.equal(got, 'abcdefgh')
  })

  test('reads queued before the connection completes are served once it is up', async () => {
    const port = await rawServer(resources, (socket) => socket.write('early bytes!'))
    const client = resources.socket(AsyncSocket.open({ host: '127.0.0.1', port }))
    assert.equal(client.state, 'connecting')
    const first = client.read({ length: 5 })
    const second = client.read({ until: '!' })
    assert.equal((await within(first, 2000, 'first')).toString(), 'early')
    assert.equal((await within(second, 2000, 'second')).toString(), ' bytes!')
    assert.equal(client.state, 'connected')
  })

  test("'read' and 'readProgress' events carry the read's tag", async () => {
    const { client, peer } = await pairWithRaw(resources)
    const progress: [number, number, unknown][] = []
    client.on('readProgress', (done, total, tag) => progress.push([done, total, tag]))
    const events: [string, unknown][] = []
    client.on('read', (data, tag) => events.push([data.toString(), tag]))
    const body = client.read({ length: 6, tag: 'body' })
    peer.write('abc')
    await within(once(client, 'readProgress'), 2000, 'progress')
    peer.write('def')
    await within(body, 2000, 'body')
    assert.deepEqual(progress[0], [3, 6, 'body'])
    assert.deepEqual(events, [['abcdef', 'body']])
  })

  test("'read' events fire for reads served from the buffer, also for listeners added after removeAllListeners()", async () => {
    const { client, peer } = await pairWithRaw(resources)
    peer.write('abcdef')
    assert.equal((await within(client.read({ length: 1 }), 2000, 'first')).toString(), 'a')
    const seen: string[] = []
    client.removeAllListeners()
    client.on('read', (data, tag) => seen.push(`${data}:${tag}`))
    assert.equal((await client.read({ length: 2, tag: 'x' })).toString(), 'bc')
    client.removeAllListeners('read')
    assert.equal((await client.read({ length: 1, tag: 'unseen' })).toString(), 'd')
    client.once('read', (data, tag) => seen.push(`${data}:${tag}`))
    assert.equal((await client.read({ length: 2, tag: 'y' })).toString(), 'ef')
    assert.deepEqual(seen, ['bc:x', 'ef:y'])
  })

  test('bytes already received stay readable after the peer closes', async () => {
    const { client, peer } = await pairWithRaw(resources)
    peer.end('last words')
    await within(once(client, 'readClosed'), 2000, 'readClosed')
    assert.equal((await client.read({ length: 4 })).toString(), 'last')
    assert.equal((await client.read()).toString(), ' words')
    await assert.rejects(client.read(), (error) => isWirekitError(error, 'WK_CLOSED'))
  })

  test('a length read cut short by the peer closing rejects with WK_CLOSED and the bytes it had', async () => {
    const { client, peer } = await pairWithRaw(resources)
    const read = client.read({ length: 10, tag: 7 })
    peer.end('1234')
    await assert.rejects(read, (error) => {
      assert.ok(isWirekitError(error, 'WK_CLOSED'))
      assert.equal(error.bytesDone, 4)
      return true
    })
  })

  test('a reader slower than its sender holds at most about readHighWaterMark bytes in user space', async () => {
    const highWaterMark = 64 * 1024
    const { client, peer } = await pairWithRaw(resources, { readHighWaterMark: highWaterMark })
    const total = 8 * 1024 * 1024
    const chunk = Buffer.alloc(64 * 1024, 7)
    let sent = 0
    const pump = async (): Promise<void> => {
      while (sent < total) {
        sent += chunk.length
        if (!peer.write(chunk)) await once(peer, 'drain')
      }
    }
    const pumping = pump()
    let received = 0
    let maxBuffered = 0
    // Read slowly: the sender is far ahead, so the buffer would grow without the pause.
    while (received < total) {
      await new Promise((resolve) => setTimeout(resolve, received < 1024 * 1024 ? 2 : 0))
      maxBuffered = Math.max(maxBuffered, client.bufferedBytes)
      received += (await within(client.read(), 5000, 'read')).length
    }
    await pumping
    assert.equal(received, total)
    // One kernel read (up to 64 KiB by default) may land after the mark is crossed.
    assert.ok(maxBuffered <= highWaterMark + 256 * 1024, `buffered ${maxBuffered} bytes`)
  })

  test('misused reads throw WK_INVALID_ARGUMENT at once', async () => {
    const { client } = await pairWithRaw(resources)
    assert.throws(
      () => client.read({ length: 0 }),
      (error) => isWirekitError(error, 'WK_INVALID_ARGUMENT'),
    )
    assert.throws(
      () => client.read({ length: 1.5 }),
      (error) => isWirekitError(error, 'WK_INVALID_ARGUMENT'),
    )
    assert.throws(
      () => client.read({ until: '' }),
      (error) => isWirekitError(error, 'WK_INVALID_ARGUMENT'),
    )
    assert.throws(
      () => client.read({ until: '\r\n', maxLength: 1 }),
      (error) => isWirekitError(error, 'WK_INVALID_ARGUMENT'),
    )
    assert.throws(
      () => client.read({ length: 2, until: 'x' }),
      (error) => isWirekitError(error, 'WK_INVALID_ARGUMENT'),
    )
  })
})
