// RtmpClient against servers nobody here wrote: nginx with the rtmp module (started by the test,
// without root) and ffmpeg as a one-shot RTMP server (-listen 1). What RtmpClient publishes is
// pulled by ffmpeg and by RtmpClient.play and compared with the source, packet for packet.
import assert from 'node:assert/strict'
import { createReadStream, readFileSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { isWirekitError } from '../../src/errors.ts'
import { FlvReader, type FlvTag, RtmpClient, type RtmpPublisher } from '../../src/rtmp/index.ts'
import { finished, makeSource, offsetIn, packets, type Run, start, tempDir, until } from './rtmp-tools.ts'

const dir = tempDir('rtmp-nginx')
let file: string
let source: Map<number, string[]>
let sourceTags: FlvTag[]
let nginx: ReturnType<typeof start> | undefined

async function freePort(): Promise<number> {
  const probe = net.createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as net.AddressInfo
  await new Promise((resolve) => probe.close(resolve))
  return port
}

async function startNginx(): Promise<number> {
  const port = await freePort()
  const conf = join(dir, 'nginx.conf')
  writeFileSync(
    conf,
    `load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
daemon off;
master_process off;
worker_processes 1;
user root;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 64; }
rtmp {
  server {
    listen 127.0.0.1:${port};
    chunk_size 4096;
    application live { live on; play_restart on; }
  }
}
`,
  )
  nginx = start('nginx', ['-p', dir, '-e', join(dir, 'error.log'), '-c', conf])
  // Ready when it accepts a connection.
  const deadline = Date.now() + 10_000
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy()
        resolve(true)
      })
      s.on('error', () => resolve(false))
    })
    if (ok) return port
    if (Date.now() > deadline)
      throw new Error(`nginx did not start: ${readFileSync(join(dir, 'error.log'), 'utf8')}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

const ffmpeg = (...args: string[]) => start('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args])

let nginxPull: { run: Run; packets: Map<number, string[]> }
const played: FlvTag[] = []
let listenPull: { run: Run; packets: Map<number, string[]> }

before(async () => {
  file = await makeSource(dir, 3)
  source = await packets(file)
  sourceTags = new FlvReader().push(readFileSync(file))
  const port = await startNginx()
  const url = `rtmp://127.0.0.1:${port}/live/key`
  const out = join(dir, 'from-nginx.flv')
  const puller = finished(ffmpeg('-i', url, '-c', 'copy', '-f', 'flv', out))
  // With play_restart, nginx confirms a play (Play.Start) only once a publisher starts.
  const playing = RtmpClient.play(url)
  const collected = (async () => {
    for await (const tag of (await playing).tags()) played.push(tag)
  })()
  // Both players are connected and waiting (nginx logs each play at level info).
  const plays = () => (readFileSync(join(dir, 'error.log'), 'utf8').match(/ play: name='key'/g) ?? []).length
  await until(() => plays() >= 2, 20_000, 'both players at nginx')
  const publisher = await RtmpClient.publish(url)
  await publisher.push(createReadStream(file), { realtime: true })
  await publisher.close()
  const pulled = await puller
  await collected
  nginxPull = { run: pulled, packets: await packets(out) }

  // ffmpeg as a one-shot server.
  const listenPort = await freePort()
  const listenOut = join(dir, 'from-listen.flv')
  const listener = finished(
    ffmpeg(
      '-listen',
      '1',
      '-i',
      `rtmp://127.0.0.1:${listenPort}/live/key`,
      '-c',
      'copy',
      '-f',
      'flv',
      listenOut,
    ),
  )
  const pub = await connectWhenListening(`rtmp://127.0.0.1:${listenPort}/live/key`)
  await pub.push(createReadStream(file))
  await pub.close()
  listenPull = { run: await listener, packets: await packets(listenOut) }
})

async function connectWhenListening(url: string): Promise<RtmpPublisher> {
  const deadline = Date.now() + 10_000
  for (;;) {
    try {
      return await RtmpClient.publish(url)
    } catch (error) {
      if (!isWirekitError(error, 'WK_CONNECT_REFUSED') || Date.now() > deadline) throw error
      await new Promise((r) => setTimeout(r, 50))
    }
  }
}

after(() => {
  nginx?.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
})

test('RtmpClient.publish to nginx-rtmp: ffmpeg pulling from nginx gets every packet of the source', () => {
  assert.equal(nginxPull.run.code, 0, nginxPull.run.stderr)
  assert.equal(offsetIn(source.get(0)!, nginxPull.packets.get(0)!), 0)
  assert.ok(offsetIn(source.get(1)!, nginxPull.packets.get(1)!) <= 2)
})

test('RtmpClient.play from nginx-rtmp gets the published frames byte-exact, in order', () => {
  const media = (tags: FlvTag[], type: number) =>
    tags.filter((t) => t.type === type).map((t) => t.data.toString('hex'))
  for (const type of [8, 9]) {
    const want = media(sourceTags, type)
    const got = media(played, type)
    assert.ok(got.length >= want.length - 2, `type ${type}: got ${got.length} of ${want.length}`)
    assert.deepEqual(got, want.slice(want.length - got.length))
  }
})

test('ffmpeg -listen 1 receives a push from RtmpClient: every packet arrives', () => {
  assert.equal(listenPull.run.code, 0, listenPull.run.stderr)
  assert.deepEqual(listenPull.packets.get(0), source.get(0))
  assert.deepEqual(listenPull.packets.get(1), source.get(1))
})
