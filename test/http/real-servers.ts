// Test helper: HTTP servers nobody here wrote, spawned on 127.0.0.1 for the duration of a test file.
// `python3 -m http.server` (HTTP/1.0, Connection: close, ignores Range), `openssl s_server -WWW` (HTTPS, HTTP/1.0,
// ignores Range) and nginx (HTTP/1.1, keep-alive, honours Range). Each serves the files of one directory.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { KeyPair } from '../helpers/certs.ts'

export type RealServer = {
  /** Base URL with a trailing slash. */
  url: string
  port: number
  close(): Promise<void>
}

/** A free TCP port on 127.0.0.1 (for programs that cannot report the port they bound). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

/** Resolves once something accepts TCP connections on `port` (polls for up to `timeout` ms). */
async function waitForPort(port: number, child: ChildProcess, timeout = 10_000): Promise<void> {
  const deadline = Date.now() + timeout
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode} before listening`)
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1')
      socket.once('connect', () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
    if (open) return
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port} after ${timeout} ms`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

function stopper(child: ChildProcess, cleanup?: () => void): () => Promise<void> {
  return async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    }
    cleanup?.()
  }
}

/** `python3 -m http.server` serving `dir`. */
export async function startPython(dir: string): Promise<RealServer> {
  const port = await freePort()
  const child = spawn('python3', ['-m', 'http.server', String(port), '--bind', '127.0.0.1'], {
    cwd: dir,
    stdio: 'ignore',
  })
  await waitForPort(port, child)
  return { url: `http://127.0.0.1:${port}/`, port, close: stopper(child) }
}

/** `openssl s_server -WWW` serving `dir` over TLS with `pair` (a certificate for localhost / 127.0.0.1). */
export async function startOpenssl(dir: string, pair: KeyPair): Promise<RealServer> {
  const port = await freePort()
  const keys = mkdtempSync(join(tmpdir(), 'wirekit-s_server-'))
  writeFileSync(join(keys, 'key.pem'), pair.key)
  writeFileSync(join(keys, 'cert.pem'), pair.cert)
  const child = spawn(
    'openssl',
    [
      's_server',
      '-WWW',
      '-quiet',
      '-accept',
      `127.0.0.1:${port}`,
      '-key',
      join(keys, 'key.pem'),
      '-cert',
      join(keys, 'cert.pem'),
    ],
    { cwd: dir, stdio: 'ignore' },
  )
  await waitForPort(port, child)
  return {
    url: `https://localhost:${port}/`,
    port,
    close: stopper(child, () => rmSync(keys, { recursive: true, force: true })),
  }
}

/** nginx (foreground, its own prefix directory) serving `dir`; honours Range, keeps connections alive. */
export async function startNginx(dir: string, options: { rate?: string } = {}): Promise<RealServer> {
  const port = await freePort()
  const prefix = mkdtempSync(join(tmpdir(), 'wirekit-nginx-'))
  const limit = options.rate === undefined ? '' : `limit_rate ${options.rate};`
  writeFileSync(
    join(prefix, 'nginx.conf'),
    `daemon off; master_process off; pid ${prefix}/nginx.pid; error_log ${prefix}/error.log;
events { worker_connections 64; }
http {
  access_log off; client_body_temp_path ${prefix}/body; proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fcgi; uwsgi_temp_path ${prefix}/uwsgi; scgi_temp_path ${prefix}/scgi;
  server { listen 127.0.0.1:${port}; root ${dir}; ${limit} }
}
`,
  )
  const child = spawn('nginx', ['-p', prefix, '-c', join(prefix, 'nginx.conf')], { stdio: 'ignore' })
  await waitForPort(port, child)
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    close: stopper(child, () => rmSync(prefix, { recursive: true, force: true })),
  }
}
