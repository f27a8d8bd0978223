// `wirekit get` as a curl/wget user meets it, run as a child process against servers nobody here wrote:
// python3 -m http.server (HTTP/1.0, ignores Range), openssl s_server -WWW (HTTPS) and nginx (honours Range).
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { targetURL } from '../../src/cli/get.ts'
import { makeCerts, type TestCerts } from '../helpers/certs.ts'
import { type RealServer, startNginx, startOpenssl, startPython } from '../http/real-servers.ts'

const bin = new URL('../../bin/wirekit.js', import.meta.url).pathname
const MiB = 1024 * 1024

type Run = {
  code: number | null
  stdout: string
  stdoutSha: string
  stdoutBytes: number
  stderr: string
  peakRss: number
}

/** Runs `wirekit get …`; `during(child)` runs while it does (to interrupt it). Peak RSS is sampled from /proc. */
function wirekit(args: string[], during?: (child: ChildProcess) => Promise<void>): Promise<Run> {
  const child = spawn(process.execPath, [bin, 'get', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  const hash = createHash('sha256')
  let stdoutBytes = 0
  let head = ''
  let stderr = ''
  let peakRss = 0
  child.stdout.on('data', (chunk: Buffer) => {
    hash.update(chunk)
    stdoutBytes += chunk.length
    if (head.length < 4096) head += chunk.toString('latin1')
  })
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const sampler = setInterval(() => {
    try {
      const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1])
      if (kb * 1024 > peakRss) peakRss = kb * 1024
    } catch {
      // exited between two samples
    }
  }, 10)
  void during?.(child)
  return new Promise((resolve) => {
    child.once('close', (code) => {
      clearInterval(sampler)
      resolve({ code, stdout: head, stdoutSha: hash.digest('hex'), stdoutBytes, stderr, peakRss })
    })
  })
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex')
}

async function until(check: () => boolean, timeout = 10_000): Promise<void> {
  const deadline = Date.now() + timeout
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await sleep(10)
  }
}

describe('wirekit get', () => {
  let dir: string
  let out: string
  let certs: TestCerts
  let python: RealServer
  let nginx: RealServer
  let openssl: RealServer
  let big: Server
  let bigURL: string
  let thirty: string
  const BIG = 150 * MiB

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wirekit-get-'))
    out = await mkdtemp(join(tmpdir(), 'wirekit-get-out-'))
    writeFileSync(join(dir, '30mib.bin'), randomBytes(30 * MiB))
    writeFileSync(join(dir, 'small.txt'), 'hello from a real server\n')
    thirty = sha256(join(dir, '30mib.bin'))
    certs = makeCerts()
    python = await startPython(dir)
    // 8 MiB/s: a 30 MiB download takes ~4 s, time enough to interrupt it mid-way.
    nginx = await startNginx(dir, { rate: '8m' })
    openssl = await startOpenssl(dir, certs.server)
    // A body larger than the memory a buffering client could hide: 150 MiB of one repeated MiB, sent with backpressure.
    const block = randomBytes(MiB)
    big = createServer((_req, res) => {
      res.writeHead(200, { 'content-length': String(BIG), 'content-type': 'application/octet-stream' })
      let sent = 0
      const more = () => {
        while (sent < BIG) {
          sent += MiB
          if (!res.write(block)) return void res.once('drain', more)
        }
        res.end()
      }
      more()
    })
    await new Promise<void>((resolve) => big.listen(0, '127.0.0.1', resolve))
    bigURL = `http://127.0.0.1:${(big.address() as { port: number }).port}/big`
  })
  after(async () => {
    await Promise.all([python.close(), nginx.close(), openssl.close()])
    big.closeAllConnections()
    await new Promise((resolve) => big.close(resolve))
    await rm(dir, { recursive: true, force: true })
    await rm(out, { recursive: true, force: true })
  })

  test('a URL without a scheme gets http:// for loopback and https:// otherwise, like curl', () => {
    assert.equal(targetURL('127.0.0.1:8080/a'), 'http://127.0.0.1:8080/a')
    assert.equal(targetURL('localhost/x'), 'http://localhost/x')
    assert.equal(targetURL('[::1]:81/'), 'http://[::1]:81/')
    assert.equal(targetURL('example.com/file'), 'https://example.com/file')
    assert.equal(targetURL('http://example.com/'), 'http://example.com/')
  })

  test('a scheme-less loopback URL is fetched over plain http from python3 -m http.server', async () => {
    const run = await wirekit([`127.0.0.1:${python.port}/small.txt`])
    assert.equal(run.code, 0, run.stderr)
    assert.equal(run.stdout, 'hello from a real server\n')
  })

  test('port 70000 says "invalid port" and exits 2', async () => {
    const run = await wirekit(['127.0.0.1:70000/'])
    assert.equal(run.code, 2)
    assert.match(
      run.stderr,
      /^wirekit get: invalid port 70000 in 127\.0\.0\.1:70000\/ \(ports are 1-65535\)\n$/,
    )
  })

  for (const args of [
    ['--timeout', '0'],
    ['--timeout', 'soon'],
    ['--retries', '-1'],
    ['--max-redirects', '1.5'],
    ['--retries', '99999999999'],
  ]) {
    test(`a bad number (${args.join(' ')}) is a clear error with exit status 2`, async () => {
      const run = await wirekit([...args, `127.0.0.1:${python.port}/small.txt`])
      assert.equal(run.code, 2)
      assert.match(
        run.stderr,
        new RegExp(`^wirekit get: ${args[0]} must be a whole number from \\d+ to \\d+, got "`),
      )
    })
  }

  test('--cache memory works (it used to fail on the default SQLite path)', async () => {
    const run = await wirekit(['--cache', 'memory', `${python.url}small.txt`])
    assert.equal(run.code, 0, run.stderr)
    assert.equal(run.stdout, 'hello from a real server\n')
  })

  test('without -o a 150 MiB body streams to stdout without being held in memory', async () => {
    const small = await wirekit([`${python.url}small.txt`])
    const run = await wirekit([bigURL])
    assert.equal(run.code, 0, run.stderr)
    assert.equal(run.stdoutBytes, BIG)
    // Holding the body would add at least BIG; streaming adds buffers and garbage not yet collected.
    const growth = run.peakRss - small.peakRss
    assert.ok(growth < 100 * MiB, `peak RSS grew by ${(growth / MiB).toFixed(0)} MiB over a tiny body's`)
  })

  test('30 MiB from python3 -m http.server, 10 times: every file complete, sha256 matches', async () => {
    for (let round = 0; round < 10; round++) {
      const to = join(out, `thirty-${round}.bin`)
      const run = await wirekit(['-o', to, `${python.url}30mib.bin`])
      assert.equal(run.code, 0, `round ${round}: ${run.stderr}`)
      assert.equal(sha256(to), thirty, `round ${round}`)
      assert.equal(existsSync(`${to}.download`), false)
      await rm(to)
    }
  })

  test('the progress bar shows rate and ETA, and a summary line follows', async () => {
    const to = join(out, 'progress.bin')
    const run = await wirekit(['--progress', '-o', to, `${python.url}30mib.bin`])
    assert.equal(run.code, 0, run.stderr)
    assert.match(
      run.stderr,
      /\r\[[#.]{24}\] +\d+% +[\d.]+ MiB \/ 30\.0 MiB +[\d.]+ (MiB|KiB)\/s +ETA [\d.]+s/,
    )
    assert.match(
      run.stderr,
      /\nsaved .*progress\.bin: 30\.0 MiB; 30\.0 MiB in [\d.]+s \([\d.]+ MiB\/s\)\n200 /,
    )
    await rm(to)
  })

  test('an interrupt prints on its own line and keeps <file>.download; --resume continues it (nginx, Range)', async () => {
    const to = join(out, 'resumed.bin')
    const partial = `${to}.download`
    const first = await wirekit(['--progress', '-o', to, `${nginx.url}30mib.bin`], async (child) => {
      await until(() => existsSync(partial) && statSync(partial).size > 2 * MiB)
      child.kill('SIGINT')
    })
    assert.equal(first.code, 130, first.stderr)
    const lines = first.stderr.split('\n')
    const line = lines.find((l) => l.includes('interrupted'))
    assert.match(
      line ?? '',
      /^wirekit get: interrupted; kept .*resumed\.bin\.download \([\d.]+ MiB\), continue with --resume$/,
    )
    const kept = statSync(partial).size
    assert.ok(kept > 2 * MiB && kept < 30 * MiB, `kept ${kept}`)
    assert.equal(existsSync(to), false)

    const second = await wirekit(['--resume', '-o', to, `${nginx.url}30mib.bin`])
    assert.equal(second.code, 0, second.stderr)
    assert.match(second.stderr, /resuming at [\d.]+ MiB/)
    assert.match(second.stderr, /saved .*: 30\.0 MiB, resumed at [\d.]+ MiB; /)
    assert.equal(sha256(to), thirty)
    assert.equal(existsSync(partial), false)
  })

  test('a body cut mid-way exits 1, names the kept partial file, and --resume completes it', async () => {
    const whole = randomBytes(2 * MiB)
    const cutter = createServer((req, res) => {
      const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '')
      if (range !== null && req.headers['if-range'] === '"v1"') {
        const from = Number(range[1])
        res.writeHead(206, {
          'content-range': `bytes ${from}-${whole.length - 1}/${whole.length}`,
          'content-length': String(whole.length - from),
          etag: '"v1"',
        })
        res.end(whole.subarray(from))
        return
      }
      res.writeHead(200, { 'content-length': String(whole.length), etag: '"v1"' })
      res.write(whole.subarray(0, MiB), () => setTimeout(() => res.destroy(), 50))
    })
    await new Promise<void>((resolve) => cutter.listen(0, '127.0.0.1', resolve))
    try {
      const url = `http://127.0.0.1:${(cutter.address() as { port: number }).port}/file`
      const to = join(out, 'cut.bin')
      const first = await wirekit(['--retries', '0', '-o', to, url])
      assert.equal(first.code, 1, first.stderr)
      // What arrived before the cut and reached the disk is kept (the write of the last chunks may be cut too).
      assert.match(first.stderr, /kept .*cut\.bin\.download \([\d.]+ (KiB|MiB)\), continue with --resume/)
      const second = await wirekit(['--resume', '-o', to, url])
      assert.equal(second.code, 0, second.stderr)
      assert.match(second.stderr, /resuming at [\d.]+ (KiB|MiB)/)
      assert.deepEqual(readFileSync(to), whole)
    } finally {
      cutter.closeAllConnections()
      await new Promise((resolve) => cutter.close(resolve))
    }
  })

  test('--resume against a server that ignores Range says it restarts from zero (python3 -m http.server)', async () => {
    const to = join(out, 'restart.bin')
    const url = `${python.url}30mib.bin`
    // A partial file as an interrupted download leaves it: the first MiB and its validator.
    const head = await fetch(url, { method: 'HEAD' })
    const validator = head.headers.get('last-modified') as string
    const whole = readFileSync(join(dir, '30mib.bin'))
    writeFileSync(`${to}.download`, whole.subarray(0, MiB))
    writeFileSync(`${to}.download.json`, JSON.stringify({ url, validator }))
    const run = await wirekit(['--resume', '-o', to, url])
    assert.equal(run.code, 0, run.stderr)
    assert.match(run.stderr, /ignores Range.*restarting from zero, 1\.0 MiB dropped/)
    assert.equal(sha256(to), thirty)
  })

  test('an untrusted certificate (openssl s_server) fails with a hint at --ca and --insecure', async () => {
    const run = await wirekit([`${openssl.url}small.txt`])
    assert.equal(run.code, 1)
    assert.match(run.stderr, /WK_HTTP_TLS_UNTRUSTED/)
    assert.match(run.stderr, /--ca <file>.*--insecure/)
  })

  test('--ca trusts the server of openssl s_server -WWW; --insecure skips the check', async () => {
    const ca = join(out, 'ca.pem')
    writeFileSync(ca, certs.ca)
    const to = join(out, 'tls.bin')
    const trusted = await wirekit(['--ca', ca, '-o', to, `${openssl.url}30mib.bin`])
    assert.equal(trusted.code, 0, trusted.stderr)
    assert.equal(sha256(to), thirty)
    const insecure = await wirekit(['--insecure', `${openssl.url}small.txt`])
    assert.equal(insecure.code, 0, insecure.stderr)
    assert.equal(insecure.stdout, 'hello from a real server\n')
  })

  test('a file that is not a certificate given to --ca exits 2', async () => {
    const run = await wirekit(['--ca', join(out, 'missing.pem'), `${openssl.url}small.txt`])
    assert.equal(run.code, 2)
    assert.match(run.stderr, /^wirekit get: --ca .*missing\.pem/)
  })
})
