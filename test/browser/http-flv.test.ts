// HTTP-FLV and WebSocket-FLV played in a real browser: ffmpeg pushes an H.264/AAC source to
// RtmpServer, and a page in Debian's Chromium plays /live/key.flv with mpegts.js (the maintained
// successor of flv.js: it demuxes FLV into fragmented MP4 for Media Source Extensions). The video
// element's clock advances and Chromium decodes frames, over http:// and over ws://.
import assert from 'node:assert/strict'
import { readFileSync, rmSync } from 'node:fs'
import http from 'node:http'
import { createRequire } from 'node:module'
import { after, before, test } from 'node:test'
import type { Browser } from 'playwright-core'
import { RtmpServer } from '../../src/rtmp/index.ts'
import { launchChromium } from '../helpers/browser.ts'
import { finished, makeSource, type Run, start, tempDir, until } from '../interop/rtmp-tools.ts'

const dir = tempDir('flv-browser')
const server = new RtmpServer()
const mpegts = readFileSync(createRequire(import.meta.url).resolve('mpegts.js/dist/mpegts.js'), 'utf8')
// The page comes from another origin than the stream, as it would in production (CORS is open).
const web = http.createServer((req, res) => {
  if (req.url === '/mpegts.js') {
    res.writeHead(200, { 'content-type': 'text/javascript' })
    res.end(mpegts)
  } else {
    res.writeHead(200, { 'content-type': 'text/html' })
    res.end('<!doctype html><title>flv</title><script src="/mpegts.js"></script>')
  }
})
let browser: Browser
let flvPort = 0
let pusher: ReturnType<typeof start> | undefined
let pushed: Promise<Run> | undefined

before(async () => {
  const file = await makeSource(dir, 30)
  const { port } = await server.listen({ port: 0 })
  flvPort = (await server.listenHttpFlv({ port: 0 })).port
  let published = false
  server.on('publish', () => {
    published = true
  })
  pusher = start('ffmpeg', [
    ...['-hide_banner', '-loglevel', 'error', '-re', '-i', file],
    ...['-c', 'copy', '-f', 'flv', `rtmp://127.0.0.1:${port}/live/key`],
  ])
  pushed = finished(pusher, 120_000)
  await until(() => published, 20_000, 'ffmpeg to publish')
  await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve))
  browser = await launchChromium()
})

after(async () => {
  await browser?.close()
  pusher?.kill('SIGKILL')
  await pushed
  web.close()
  await server.close()
  rmSync(dir, { recursive: true, force: true })
})

type Played = { supported: boolean; currentTime: number; frames: number; error: string | undefined }

/** Plays `url` with mpegts.js in a fresh page until 2 s of media played and 25 frames decoded (or 30 s). */
async function play(url: string): Promise<Played> {
  const page = await browser.newPage()
  try {
    await page.goto(`http://127.0.0.1:${(web.address() as { port: number }).port}/`)
    return (await page.evaluate(`(async () => {
      const supported = mpegts.getFeatureList().mseLivePlayback
      const video = document.createElement('video')
      video.muted = true
      document.body.append(video)
      const player = mpegts.createPlayer({ type: 'flv', isLive: true, url: ${JSON.stringify(url)} })
      let error
      player.on(mpegts.Events.ERROR, (type, detail) => { error = type + ': ' + detail })
      player.attachMediaElement(video)
      player.load()
      video.play().catch((e) => { error = String(e) })
      const frames = () => video.getVideoPlaybackQuality().totalVideoFrames
      const deadline = Date.now() + 30000
      while (Date.now() < deadline && error === undefined && !(video.currentTime >= 2 && frames() >= 25))
        await new Promise((r) => setTimeout(r, 100))
      const result = { supported, currentTime: video.currentTime, frames: frames(), error }
      player.destroy()
      return result
    })()`)) as Played
  } finally {
    await page.close()
  }
}

test('Chromium plays HTTP-FLV from RtmpServer with mpegts.js: the clock advances and frames decode', async () => {
  const played = await play(`http://127.0.0.1:${flvPort}/live/key.flv`)
  assert.equal(played.error, undefined)
  assert.equal(played.supported, true)
  assert.ok(played.currentTime >= 2, `currentTime ${played.currentTime}`)
  assert.ok(played.frames >= 25, `${played.frames} frames decoded`)
})

test('Chromium plays WebSocket-FLV from RtmpServer with mpegts.js: the clock advances and frames decode', async () => {
  const played = await play(`ws://127.0.0.1:${flvPort}/live/key.flv`)
  assert.equal(played.error, undefined)
  assert.ok(played.currentTime >= 2, `currentTime ${played.currentTime}`)
  assert.ok(played.frames >= 25, `${played.frames} frames decoded`)
})
