// `wirekit rtmp serve | push | pull` as a user runs them: separate processes, a real FLV file.
import assert from 'node:assert/strict'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { encodeFlvTag, FlvReader, flvHeader } from '../../src/rtmp/index.ts'
import { finished, start, tempDir, until } from '../interop/rtmp-tools.ts'
import { aacConfig, avcConfig, gops, hex, metadata } from './fixtures.ts'

const bin = new URL('../../bin/wirekit.js', import.meta.url).pathname
const dir = tempDir('rtmp-cli')
const children: ReturnType<typeof start>[] = []
after(() => {
  for (const child of children) child.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
})

const wirekit = (...args: string[]) => {
  const child = start(process.execPath, [bin, 'rtmp', ...args])
  children.push(child)
  return child
}

test('rtmp serve, then pull -o file while push sends an FLV file: the pulled file has the same tags', async () => {
  const tags = [metadata(), avcConfig(), aacConfig(), ...gops(3, 10)]
  const source = join(dir, 'in.flv')
  writeFileSync(
    source,
    Buffer.concat([flvHeader(), ...tags.map((t) => encodeFlvTag(t.type, t.timestamp, t.data))]),
  )
  const serve = wirekit('serve', '--port', '0', '--http', 'off')
  let announced = ''
  serve.stdout!.setEncoding('utf8').on('data', (t: string) => (announced += t))
  await until(() => announced.includes('rtmp://'), 20_000, 'the server to start')
  const url = `${announced.split('\n')[0]!.replace('<key>', 'cli')}`
  const output = join(dir, 'out.flv')
  const pull = finished(wirekit('pull', url, '-o', output), 30_000)
  await new Promise((r) => setTimeout(r, 1500)) // the player is waiting when the push starts
  const push = await finished(wirekit('push', source, url, '--fast'), 30_000)
  assert.equal(push.code, 0, push.stderr)
  assert.match(push.stderr, /pushed 1\.2 s of media, 63 tags/)
  const pulled = await pull
  assert.equal(pulled.code, 0, pulled.stderr)
  assert.match(pulled.stderr, /pulled 1\.2 s/)
  assert.deepEqual(hex(new FlvReader().push(readFileSync(output))), hex(tags))
})

test('bad numbers on the command line exit with status 2 and say which option', async () => {
  const runs = await Promise.all([
    finished(wirekit('serve', '--port', '70000'), 20_000),
    finished(wirekit('serve', '--http', 'abc'), 20_000),
    finished(
      wirekit('pull', 'rtmp://127.0.0.1/live/x', '-o', join(dir, 'x.flv'), '--duration', '-1'),
      20_000,
    ),
  ])
  assert.deepEqual(
    runs.map((r) => r.code),
    [2, 2, 2],
  )
  assert.match(runs[0]!.stderr, /--port must be a whole number from 0 to 65535, got "70000"/)
  assert.match(runs[1]!.stderr, /--http must be/)
  assert.match(runs[2]!.stderr, /--duration must be/)
})
