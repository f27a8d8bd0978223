// RtmpServer against ffmpeg, a program nobody here wrote: ffmpeg publishes an H.264/AAC source
// made at test time; ffprobe, ffmpeg RTMP players (one from the start, one joining mid-stream) and
// an ffmpeg HTTP-FLV player pull it; their packets are compared with the source's, byte for byte.
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { RtmpServer } from '../../src/rtmp/index.ts'
import {
  finished,
  GOP,
  makeSource,
  offsetIn,
  packets,
  probeCodecs,
  type Run,
  start,
  tempDir,
  until,
} from './rtmp-tools.ts'

const dir = tempDir('rtmp-ffmpeg')
const server = new RtmpServer()
let source: Map<number, string[]>
let probed: string[]
const pulled: Record<'early' | 'late' | 'http', { run: Run; packets: Map<number, string[]> }> = {} as never
let publishes = 0

const ffmpeg = (...args: string[]) => start('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args])

before(async () => {
  const file = await makeSource(dir, 4)
  source = await packets(file)
  const { port } = await server.listen({ port: 0 })
  const httpFlv = await server.listenHttpFlv({ port: 0 })
  server.on('publish', () => publishes++)
  let plays = 0
  server.on('play', () => plays++)
  const url = `rtmp://127.0.0.1:${port}/live/key`
  const out = (name: string) => join(dir, `${name}.flv`)
  // A player and ffprobe waiting before the publisher starts.
  const early = ffmpeg('-i', url, '-c', 'copy', '-f', 'flv', out('early'))
  const probing = probeCodecs(url)
  await until(() => plays === 2, 20_000, 'the early player and ffprobe')
  const pusher = ffmpeg('-re', '-i', file, '-c', 'copy', '-f', 'flv', url)
  const push = finished(pusher, 60_000)
  // Mid-stream: well past the first keyframe, before the last. The pusher is paused while the late
  // players connect, so however slow the machine they join a live stream.
  await until(() => (server.stats().streams[0]?.uptime ?? 0) > 1600, 20_000, 'the stream to run 1.6 s')
  pusher.kill('SIGSTOP')
  const playsBefore = plays
  const late = ffmpeg('-i', url, '-c', 'copy', '-f', 'flv', out('late'))
  const httpPlayer = ffmpeg(
    '-i',
    `http://127.0.0.1:${httpFlv.port}/live/key.flv`,
    '-c',
    'copy',
    '-f',
    'flv',
    out('http'),
  )
  try {
    await until(() => plays >= playsBefore + 2, 20_000, 'the late players')
  } finally {
    pusher.kill('SIGCONT')
  }
  probed = await probing
  const [pushed, e, l, h] = await Promise.all([push, finished(early), finished(late), finished(httpPlayer)])
  assert.equal(pushed.code, 0, pushed.stderr)
  for (const [name, r] of [
    ['early', e],
    ['late', l],
    ['http', h],
  ] as const)
    pulled[name] = { run: r, packets: await packets(out(name)) }
})

after(async () => {
  await server.close()
  rmSync(dir, { recursive: true, force: true })
})

test('ffmpeg publishes to RtmpServer and ffprobe sees H.264 video and AAC audio', () => {
  assert.equal(publishes, 1)
  assert.deepEqual(probed, ['aac', 'h264'])
})

test('an ffmpeg player there before the publisher gets every video packet and the audio from the first keyframe', () => {
  assert.equal(pulled.early.run.code, 0, pulled.early.run.stderr)
  assert.equal(offsetIn(source.get(0)!, pulled.early.packets.get(0)!), 0)
  assert.ok(offsetIn(source.get(1)!, pulled.early.packets.get(1)!) <= 2)
})

test('an ffmpeg player joining mid-stream starts at a keyframe from the GOP cache and gets every packet after it', () => {
  assert.equal(pulled.late.run.code, 0, pulled.late.run.stderr)
  const at = offsetIn(source.get(0)!, pulled.late.packets.get(0)!)
  assert.ok(at > 0, 'joined after the first GOP')
  assert.equal(at % GOP, 0, `starts at a keyframe (video packet ${at})`)
  offsetIn(source.get(1)!, pulled.late.packets.get(1)!)
})

test('ffmpeg pulling HTTP-FLV gets the same packets from a keyframe on', () => {
  assert.equal(pulled.http.run.code, 0, pulled.http.run.stderr)
  const at = offsetIn(source.get(0)!, pulled.http.packets.get(0)!)
  assert.equal(at % GOP, 0, `starts at a keyframe (video packet ${at})`)
  offsetIn(source.get(1)!, pulled.http.packets.get(1)!)
})

test('the stream is forgotten once the publisher and the players are gone', async () => {
  await until(() => server.stats().streams.length === 0, 5000, 'the stream to go')
  assert.equal(server.stats().sessions, 0)
})
