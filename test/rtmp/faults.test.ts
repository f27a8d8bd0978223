// Faults: a publisher whose connection is reset mid-stream, and a slow player among twenty that
// keep up. Players learn of the end and the server lets go of the stream; the slow one skips to
// later keyframes while the server holds at most its cap for it, and the others lose nothing.
import assert from 'node:assert/strict'
import http from 'node:http'
import { after, test } from 'node:test'
import {
  type FlvTag,
  RtmpClient,
  type RtmpPlayer,
  RtmpServer,
  type RtmpServerOptions,
} from '../../src/rtmp/index.ts'
import { until } from '../interop/rtmp-tools.ts'
import { aacConfig, avcConfig, gops, hex, metadata } from './fixtures.ts'

const servers: RtmpServer[] = []
after(async () => {
  await Promise.all(servers.map((s) => s.close()))
})

async function serve(options: RtmpServerOptions = {}) {
  const server = new RtmpServer(options)
  servers.push(server)
  const { port } = await server.listen({ port: 0 })
  const httpFlv = await server.listenHttpFlv({ port: 0 })
  return {
    server,
    url: `rtmp://127.0.0.1:${port}/live/key`,
    flvUrl: `http://127.0.0.1:${httpFlv.port}/live/key.flv`,
  }
}

async function drain(player: RtmpPlayer, into: FlvTag[]): Promise<void> {
  for await (const tag of player.tags()) into.push(tag)
}

test('a publisher reset mid-stream: RTMP and HTTP-FLV players see the end, the server forgets the stream', async () => {
  const { server, url, flvUrl } = await serve()
  const events: string[] = []
  server.on('unpublish', () => events.push('unpublish'))
  server.on('stop', (s) => events.push(`stop ${s.protocol}`))
  const publisher = await RtmpClient.publish(url)
  for (const tag of [metadata(), avcConfig(), aacConfig(), ...gops(2, 10)]) await publisher.writeTag(tag)
  const rtmpTags: FlvTag[] = []
  const player = await RtmpClient.play(url)
  const rtmpEnded = drain(player, rtmpTags)
  let httpBytes = 0
  const httpEnded = new Promise<void>((resolve, reject) => {
    http.get(flvUrl, (res) => {
      assert.equal(res.statusCode, 200)
      assert.equal(res.headers['content-type'], 'video/x-flv')
      res.on('data', (chunk: Buffer) => (httpBytes += chunk.length))
      res.on('end', resolve)
      res.on('error', reject)
    })
  })
  await until(() => server.stats().players === 2, 5000, 'two players')
  for (const tag of gops(1, 10, 800)) await publisher.writeTag(tag)
  await until(
    () => rtmpTags.length >= 3 + 10 * 2 + 20 && httpBytes > 20_000,
    5000,
    'the players to get frames',
  )
  publisher.reset()
  await Promise.all([rtmpEnded, httpEnded])
  await until(
    () => server.stats().sessions === 0 || server.stats().streams.length === 0,
    5000,
    'the stream to go',
  )
  assert.equal(server.stats().streams.length, 0)
  assert.ok(events.includes('unpublish'))
  assert.ok(events.includes('stop http-flv'))
})

test('a slow player skips to later keyframes within its cap while 20 others get every frame', async () => {
  const cap = 1024 * 1024
  const { server, url } = await serve({ playerBufferBytes: cap })
  const publisher = await RtmpClient.publish(url)
  await publisher.writeTag(avcConfig())
  // The players run in this process too: they keep a digest of each tag, not the tag, so that RSS
  // measures the server.
  const fast: { player: RtmpPlayer; tags: string[] }[] = []
  for (let i = 0; i < 20; i++) fast.push({ player: await RtmpClient.play(url), tags: [] })
  const slow = { player: await RtmpClient.play(url), frames: [] as { timestamp: number; head: number }[] }
  let slowPace = true
  const reading = [
    ...fast.map(async (p) => {
      for await (const tag of p.player.tags()) p.tags.push(hex([tag])[0]!)
    }),
    (async () => {
      for await (const tag of slow.player.tags()) {
        slow.frames.push({ timestamp: tag.timestamp, head: tag.data[0]! })
        if (slowPace) await new Promise((r) => setTimeout(r, 100))
      }
    })(),
  ]
  await until(() => server.stats().players === 21, 5000, '21 players')
  const slowSession = server.sessions().findLast((s) => s.action === 'play')!
  let maxPending = 0
  const sampler = setInterval(() => (maxPending = Math.max(maxPending, slowSession.pendingBytes)), 5)
  const rssBefore = process.memoryUsage().rss
  // 40 GOPs of 25 frames of 12 KB (12 MB) at ten times real time (5 frames every 20 ms: 3 MB/s), far
  // more than the kernel and the cap can hold for a player reading a frame every 100 ms (120 KB/s).
  const media = gops(40, 25, 0, 12_000).filter((t) => t.type === 9)
  for (let i = 0; i < media.length; i++) {
    await publisher.writeTag(media[i]!)
    if (i % 5 === 4) await new Promise((r) => setTimeout(r, 20))
  }
  const rssGrowth = process.memoryUsage().rss - rssBefore
  await publisher.close()
  slowPace = false
  await Promise.all(reading)
  clearInterval(sampler)

  const want = hex([avcConfig(), ...media])
  for (const p of fast) assert.deepEqual(p.tags, want, 'a fast player got every frame in order')
  assert.ok(slowSession.skippedFrames > 0, 'the slow player skipped frames')
  assert.ok(
    maxPending <= cap + 13_000,
    `the server held ${maxPending} bytes for the slow player (cap ${cap})`,
  )
  assert.ok(rssGrowth < 100 * 1024 * 1024, `RSS grew by ${rssGrowth} bytes`)
  // Wherever the slow player's frames jump, they resume on a keyframe.
  const frames = slow.frames.slice(1)
  assert.ok(frames.length < media.length)
  for (let i = 1; i < frames.length; i++) {
    if (frames[i]!.timestamp !== frames[i - 1]!.timestamp + 40)
      assert.equal(frames[i]!.head, 0x17, `frame at ${frames[i]!.timestamp} ms after a jump is a keyframe`)
  }
})
