// RtmpServer with RtmpClient on loopback: GOP cache and late joiners, authorize, busy keys and
// takeover, session end, RTMPS, E-RTMP pass-through, events and stats.
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { ErrorCodes, isWirekitError } from '../../src/errors.ts'
import {
  type FlvTag,
  RtmpClient,
  type RtmpPlayer,
  RtmpServer,
  type RtmpServerOptions,
} from '../../src/rtmp/index.ts'
import { makeCerts } from '../helpers/certs.ts'
import { until } from '../interop/rtmp-tools.ts'
import {
  aacConfig,
  avcConfig,
  gops,
  hevcFrame,
  hevcSequenceStart,
  hex,
  metadata,
  opusConfig,
  opusFrame,
} from './fixtures.ts'

const servers: RtmpServer[] = []
after(async () => {
  await Promise.all(servers.map((s) => s.close()))
})

async function serve(
  options: RtmpServerOptions = {},
): Promise<{ server: RtmpServer; url: (key?: string) => string }> {
  const server = new RtmpServer(options)
  servers.push(server)
  const { port } = await server.listen({ port: 0 })
  return { server, url: (key = 'key') => `rtmp://127.0.0.1:${port}/live/${key}` }
}

/** The first `count` tags a player gets (fails after `timeout`). */
async function take(player: RtmpPlayer, count: number, timeout = 5000): Promise<FlvTag[]> {
  const got: FlvTag[] = []
  const timer = setTimeout(() => player.close(), timeout)
  for await (const tag of player.tags()) {
    got.push(tag)
    if (got.length === count) break
  }
  clearTimeout(timer)
  return got
}

test('a player joining late gets metadata, sequence headers and the GOP since the last keyframe, byte-exact', async () => {
  const { server, url } = await serve()
  const publisher = await RtmpClient.publish(url())
  const media = gops(3, 5)
  for (const tag of [metadata(), avcConfig(), aacConfig(), ...media]) await publisher.writeTag(tag)
  await until(
    () => server.stats().streams[0]?.bytesIn === sum([metadata(), avcConfig(), aacConfig(), ...media]),
    5000,
    'the publish',
  )
  const player = await RtmpClient.play(url())
  const lastGop = media.slice(20) // 3rd GOP: 5 video + 5 audio tags, from its keyframe
  const got = await take(player, 3 + lastGop.length)
  assert.deepEqual(hex(got), hex([metadata(), avcConfig(), aacConfig(), ...lastGop]))
  await publisher.close()
})

function sum(tags: FlvTag[]): number {
  return tags.reduce((n, t) => n + t.data.length, 0)
}

test('a player then gets the live frames that follow, in order', async () => {
  const { url } = await serve()
  const publisher = await RtmpClient.publish(url())
  for (const tag of [avcConfig(), aacConfig()]) await publisher.writeTag(tag)
  const player = await RtmpClient.play(url())
  const media = gops(2, 10)
  const reading = take(player, 2 + media.length)
  for (const tag of media) await publisher.writeTag(tag)
  assert.deepEqual(hex(await reading), hex([avcConfig(), aacConfig(), ...media]))
  await publisher.close()
})

test('authorize refuses a publish before Publish.Start: the client gets WK_RTMP_REJECTED, nothing is published', async () => {
  const asked: string[] = []
  const { server, url } = await serve({
    authorize: async ({ app, stream, query, action }) => {
      asked.push(`${action} ${app}/${stream} ${JSON.stringify(query)}`)
      await new Promise((r) => setTimeout(r, 100))
      return query.token === 'good'
    },
  })
  let published = 0
  server.on('publish', () => published++)
  await assert.rejects(RtmpClient.publish(url('key?token=bad')), (e) =>
    isWirekitError(e, ErrorCodes.RTMP_REJECTED),
  )
  const ok = await RtmpClient.publish(url('key?token=good'))
  assert.deepEqual(asked, ['publish live/key {"token":"bad"}', 'publish live/key {"token":"good"}'])
  assert.equal(published, 1)
  await ok.close()
})

test('authorize refuses a play; an authorize that throws refuses too', async () => {
  const { url } = await serve({
    authorize: ({ action, stream }) => {
      if (stream === 'boom') throw new Error('app bug')
      return action === 'publish'
    },
  })
  await assert.rejects(RtmpClient.play(url()), (e) => isWirekitError(e, ErrorCodes.RTMP_REJECTED))
  await assert.rejects(RtmpClient.publish(url('boom')), (e) => isWirekitError(e, ErrorCodes.RTMP_REJECTED))
})

test('a second publisher of a live key gets WK_RTMP_STREAM_BUSY (BadName)', async () => {
  const { url } = await serve()
  const first = await RtmpClient.publish(url())
  await first.writeTag(avcConfig())
  await assert.rejects(RtmpClient.publish(url()), (e) => isWirekitError(e, ErrorCodes.RTMP_STREAM_BUSY))
  await first.close()
})

test('a publisher reconnecting with the same key takes over a stale session; its players stay', async () => {
  const { server, url } = await serve({ staleAfter: 300 })
  const first = await RtmpClient.publish(url())
  await first.writeTag(avcConfig())
  const player = await RtmpClient.play(url())
  const tags = player.tags()
  assert.equal((await tags.next()).value?.type, 9)
  await new Promise((r) => setTimeout(r, 400)) // the first publisher falls silent
  const second = await RtmpClient.publish(url())
  assert.equal(server.stats().publishers, 1)
  await second.writeTag(aacConfig())
  const next = await tags.next()
  assert.deepEqual(next.value?.data, aacConfig().data)
  await assert.rejects(async () => {
    for (let i = 0; i < 50; i++) {
      await first.writeTag(avcConfig())
      await new Promise((r) => setTimeout(r, 10))
    }
  }, 'the stale publisher was disconnected')
  await second.close()
  player.close()
})

test('endSession() ends a publisher: its players see the stream end, unpublish fires', async () => {
  const { server, url } = await serve()
  const events: string[] = []
  server.on('unpublish', (s) => events.push(`unpublish ${s.stream}`))
  const publisher = await RtmpClient.publish(url())
  await publisher.writeTag(avcConfig())
  const player = await RtmpClient.play(url())
  const ended = (async () => {
    let n = 0
    for await (const _ of player.tags()) n++
    return n
  })()
  await until(() => server.stats().players === 1)
  const id = server.sessions().find((s) => s.action === 'publish')!.id
  assert.equal(server.endSession(id), true)
  assert.equal(await ended, 1)
  assert.deepEqual(events, ['unpublish key'])
  player.close()
})

test('a listener that throws does not break the session that caused the event', async () => {
  const { server, url } = await serve()
  server.on('publish', () => {
    throw new Error('listener bug')
  })
  const publisher = await RtmpClient.publish(url())
  await publisher.writeTag(avcConfig())
  await until(() => server.stats().streams[0]?.bytesIn === avcConfig().data.length)
  await publisher.close()
})

test('RTMPS: publish and play over TLS with a certificate made at test time', async () => {
  const certs = makeCerts()
  const server = new RtmpServer()
  servers.push(server)
  const { port } = await server.listen({ port: 0, tls: certs.server })
  const url = `rtmps://localhost:${port}/live/key`
  const publisher = await RtmpClient.publish(url, { tls: { ca: certs.ca } })
  await publisher.writeTag(avcConfig())
  const player = await RtmpClient.play(url, { tls: { ca: certs.ca } })
  assert.deepEqual(hex(await take(player, 1)), hex([avcConfig()]))
  assert.ok(server.sessions().every((s) => s.protocol === 'rtmps'))
  await publisher.close()
})

test('E-RTMP: HEVC sequence start and coded frames pass through byte-exact; a late player starts at an HEVC keyframe', async () => {
  const { server, url } = await serve()
  const publisher = await RtmpClient.publish(url())
  const first = [hevcSequenceStart(), opusConfig()]
  const live: FlvTag[] = []
  for (let i = 0; i < 12; i++) live.push(hevcFrame(i * 40, i % 6 === 0, i % 2 === 1), opusFrame(i * 40))
  const early = await RtmpClient.play(url())
  const reading = take(early, first.length + live.length)
  for (const tag of [...first, ...live]) await publisher.writeTag(tag)
  assert.deepEqual(hex(await reading), hex([...first, ...live]))
  const late = await RtmpClient.play(url())
  assert.deepEqual(hex(await take(late, 2 + 12)), hex([...first, ...live.slice(12)]))
  const stats = server.stats().streams[0]!
  assert.equal(stats.videoCodec, 'hevc')
  assert.equal(stats.audioCodec, 'opus')
  await publisher.close()
})

test('stats() reports the stream: bitrate, fps, players, bytes', async () => {
  const { server, url } = await serve()
  const publisher = await RtmpClient.publish(url())
  const player = await RtmpClient.play(url())
  const consume = (async () => {
    for await (const _ of player.tags());
  })()
  await publisher.writeTag(avcConfig())
  const start = Date.now()
  let ts = 0
  while (Date.now() - start < 2300) {
    for (const tag of gops(1, 5, ts)) await publisher.writeTag(tag)
    ts += 200
    await new Promise((r) => setTimeout(r, 200))
  }
  const stats = server.stats()
  const stream = stats.streams[0]!
  assert.equal(stream.players, 1)
  assert.ok(stream.fps > 10 && stream.fps < 40, `fps ${stream.fps}`)
  assert.ok(stream.bitrate > 100_000, `bitrate ${stream.bitrate}`)
  assert.ok(stats.bytesOut > stream.bytesIn * 0.9)
  await publisher.close()
  await consume
})

test('a connection that neither publishes nor plays is closed after idleTimeout', async () => {
  const { server, url } = await serve({ idleTimeout: 300 })
  const errors: string[] = []
  server.on('sessionError', (e) => errors.push(e.code))
  const { ClientConnection } = await import('../../src/rtmp/client-connection.ts')
  const { parseRtmpUrl } = await import('../../src/rtmp/url.ts')
  const conn = await ClientConnection.open(parseRtmpUrl(url()))
  await Promise.race([
    conn.ended,
    new Promise((_, reject) => setTimeout(() => reject(new Error('not closed')), 4000)),
  ])
  assert.deepEqual(errors, [ErrorCodes.RTMP_TIMEOUT])
})

test('a player that answers pings stays; a peer that goes silent is closed with WK_RTMP_TIMEOUT', async () => {
  const { server, url } = await serve({ pingInterval: 300, pingTimeout: 300 })
  const errors: string[] = []
  server.on('sessionError', (e) => errors.push(e.code))
  const { AsyncSocket } = await import('../../src/socket/index.ts')
  const { clientAck, clientHello, encodeAmf0, encodeChunks } = await import('../../src/rtmp/index.ts')
  const port = Number(new URL(url()).port)
  const silent = await AsyncSocket.connect({ host: '127.0.0.1', port })
  await silent.write(clientHello())
  await silent.write(clientAck(await silent.read({ length: 3073 })))
  await silent.write(encodeChunks(20, 0, 0, encodeAmf0('connect', 1, { app: 'live' }), 3, 128))
  await silent.write(encodeChunks(20, 0, 0, encodeAmf0('createStream', 2, null), 3, 128))
  await silent.write(encodeChunks(20, 1, 0, encodeAmf0('play', 0, null, 'key'), 3, 128))
  const player = await RtmpClient.play(url())
  await until(() => server.stats().players === 2, 5000, 'two players')
  await until(() => errors.length > 0, 5000, 'the silent peer to time out')
  assert.deepEqual(errors, [ErrorCodes.RTMP_TIMEOUT])
  await new Promise((r) => setTimeout(r, 1200))
  assert.equal(server.stats().players, 1, 'the player that answers pings is still there')
  player.close()
  silent.destroy()
})
