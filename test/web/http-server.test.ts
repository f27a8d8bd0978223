import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { MessageServer } from '../../src/messaging/index.ts'
import { type HttpListener, listenHttp, metricsFor, serveRoutes } from '../../src/web/index.ts'
import { wirekit } from '../cli/chat-process.ts'

const cleanup: (() => unknown)[] = []
after(async () => {
  for (const fn of cleanup.reverse()) await fn()
})

async function listener(role: 'public' | 'admin', token?: string): Promise<string> {
  const server = new MessageServer()
  const metrics = metricsFor(server, { processMetrics: false })
  const h: HttpListener = await listenHttp({
    host: '127.0.0.1',
    port: 0,
    routes: serveRoutes(metrics),
    role,
    token,
    metrics,
  })
  cleanup.push(async () => {
    await h.close()
    metrics.close()
    await server.close()
  })
  return `http://127.0.0.1:${h.port}`
}

describe('serve --http: the route table and its admin gate', () => {
  test('on the public listener without a token, the admin routes do not exist', async () => {
    const base = await listener('public')
    for (const path of ['/metrics', '/stats.json', '/nope'])
      assert.equal((await fetch(base + path)).status, 404, path)
  })

  test('on the public listener with a token, admin routes answer 401 without it or with a wrong one, 200 with it', async () => {
    const base = await listener('public', 's3cret-token')
    const none = await fetch(`${base}/metrics`)
    assert.equal(none.status, 401)
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/)
    assert.equal((await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status, 401)
    const ok = await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer s3cret-token' } })
    assert.equal(ok.status, 200)
    assert.match(await ok.text(), /# TYPE wirekit_messages_sent_total counter/)
    const stats = await fetch(`${base}/stats.json`, { headers: { authorization: 'Bearer s3cret-token' } })
    assert.equal(((await stats.json()) as { sessions: { connected: number } }).sessions.connected, 0)
  })

  test('the admin listener serves them without a token; only GET and HEAD; strict headers everywhere', async () => {
    const base = await listener('admin')
    const res = await fetch(`${base}/metrics`)
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff')
    assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'/)
    assert.equal(res.headers.get('cache-control'), 'no-store')
    const post = await fetch(`${base}/metrics`, { method: 'POST', body: 'x' })
    assert.equal(post.status, 405)
    assert.equal(post.headers.get('allow'), 'GET, HEAD')
  })

  test('wirekit serve --http … --admin-token serves /metrics behind the token', async () => {
    const serve = wirekit(['serve', '--port', '0', '--http', '127.0.0.1:0', '--admin-token', 'tok-123'])
    cleanup.push(async () => {
      serve.child.kill('SIGTERM')
      await serve.exited
    })
    const [, base] = await serve.until(/wirekit http on (http:\/\/127\.0\.0\.1:\d+)\//)
    assert.equal((await fetch(`${base}/metrics`)).status, 401)
    const ok = await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer tok-123' } })
    assert.equal(ok.status, 200)
    assert.match(await ok.text(), /wirekit_sessions\{state="connected"\} 0/)
  })

  test('wirekit serve serves HTTP on 127.0.0.1:8080 unless told otherwise, and --http off turns it off', async () => {
    const { run } = await import('../cli/chat-process.ts')
    const help = await run(['serve', '--help'])
    assert.match(help.out, /--http <\[host:\]port>[\s\S]*\(default: "8080"\)/)
    const serve = wirekit(['serve', '--port', '0', '--http', 'off'])
    cleanup.push(async () => {
      serve.child.kill('SIGTERM')
      await serve.exited
    })
    await serve.until(/listening on tcp:/)
    await new Promise((r) => setTimeout(r, 300))
    assert.doesNotMatch(serve.out, /http/)
  })

  test('the chat page at / is served under a strict CSP (no inline script), with its script and style', async () => {
    const base = await listener('public')
    const page = await fetch(`${base}/`)
    assert.equal(page.status, 200)
    const csp = page.headers.get('content-security-policy') ?? ''
    assert.match(csp, /script-src 'self'/)
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/)
    const html = await page.text()
    assert.doesNotMatch(html, /<script>|<script [^>]*>[^<]/, 'no inline script')
    assert.doesNotMatch(html, /style=/, 'no inline style')
    for (const asset of ['/chat.js', '/chat.css']) assert.equal((await fetch(`${base}${asset}`)).status, 200)
    assert.equal((await fetch(`${base}/nothing-here`)).status, 404)
  })
})
