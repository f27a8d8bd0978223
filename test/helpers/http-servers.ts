// Real local servers for HTTP tests: node:http, node:https (certificates from certs.ts, optionally asking for a
// client certificate), HTTP/2 with HTTP/1.1 fallback, and an HTTP proxy that tunnels CONNECT and forwards
// absolute-form requests, optionally behind Basic proxy authentication. On 127.0.0.1 (or ::1) port 0; `close()` ends
// every open connection so a test file exits by itself.
import {
  createServer as createHttpServer,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from 'node:http'
import { createSecureServer, type Http2SecureServer } from 'node:http2'
import { createServer as createHttpsServer } from 'node:https'
import { connect, type Socket } from 'node:net'
import type { KeyPair } from './certs.ts'

export type Handler = (req: IncomingMessage, res: ServerResponse) => void

export type TestServer = {
  /** Base URL with a trailing slash, e.g. http://127.0.0.1:41234/ */
  url: string
  port: number
  /** Requests served so far. */
  readonly requests: number
  close(): Promise<void>
}

type Closable = Server | Http2SecureServer

function track(server: Closable, scheme: string, host: string, bind = '127.0.0.1'): Promise<TestServer> {
  const sockets = new Set<Socket>()
  let requests = 0
  server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  server.on('request', () => {
    requests++
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, bind, () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      resolve({
        url: `${scheme}://${host}:${port}/`,
        port,
        get requests() {
          return requests
        },
        close: () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy()
            server.close(() => done())
          }),
      })
    })
  })
}

/** A plain HTTP/1.1 server on 127.0.0.1, or on the IPv6 loopback with `{ ipv6: true }` (URL host `[::1]`). */
export function startHttpServer(handler: Handler, options: { ipv6?: boolean } = {}): Promise<TestServer> {
  const server = createHttpServer({ keepAliveTimeout: 5000 }, handler)
  if (options.ipv6 === true) return track(server, 'http', '[::1]', '::1')
  return track(server, 'http', '127.0.0.1')
}

/**
 * An HTTPS server with `pair`; `host` names the URL's host. `clientCA` asks every client for a certificate and
 * accepts only those signed by it (mutual TLS): the handshake fails without one.
 */
export function startHttpsServer(
  handler: Handler,
  pair: KeyPair,
  options: { host?: string; h2?: boolean; clientCA?: string } = {},
): Promise<TestServer> {
  const host = options.host ?? 'localhost'
  if (options.h2 === true) {
    const server = createSecureServer({ key: pair.key, cert: pair.cert, allowHTTP1: true }, handler as never)
    return track(server, 'https', host)
  }
  const mutual =
    options.clientCA === undefined
      ? {}
      : { ca: options.clientCA, requestCert: true, rejectUnauthorized: true }
  const server = createHttpsServer({ key: pair.key, cert: pair.cert, ...mutual }, handler)
  return track(server, 'https', host)
}

export type TestProxy = TestServer & {
  /** `host:port` targets of CONNECT requests seen. */
  readonly tunnels: string[]
  /** Absolute-form URLs forwarded (plain http through the proxy). */
  readonly forwarded: string[]
  /** Requests and CONNECTs refused with 407 for want of the right Proxy-Authorization. */
  readonly refused: number
}

/**
 * An HTTP proxy: CONNECT tunnels for https, absolute-form forwarding for http. With `auth`, anything without
 * `Proxy-Authorization: Basic base64(user:pass)` gets 407 Proxy Authentication Required.
 */
export async function startProxy(
  options: { auth?: { user: string; pass: string } } = {},
): Promise<TestProxy> {
  const tunnels: string[] = []
  const forwarded: string[] = []
  let refused = 0
  const expected =
    options.auth === undefined
      ? undefined
      : `Basic ${Buffer.from(`${options.auth.user}:${options.auth.pass}`).toString('base64')}`
  const authorized = (req: IncomingMessage): boolean => {
    if (expected === undefined || req.headers['proxy-authorization'] === expected) return true
    refused++
    return false
  }
  const server = createHttpServer((req, res) => {
    if (!authorized(req)) {
      res.writeHead(407, { 'proxy-authenticate': 'Basic realm="wirekit test proxy"' }).end()
      return
    }
    forwarded.push(req.url ?? '')
    const target = new URL(req.url ?? '')
    const upstream = request(
      {
        host: target.hostname,
        port: target.port,
        path: `${target.pathname}${target.search}`,
        method: req.method,
        headers: req.headers,
      },
      (reply) => {
        res.writeHead(reply.statusCode ?? 502, reply.headers)
        reply.pipe(res)
      },
    )
    upstream.on('error', () => res.writeHead(502).end())
    req.pipe(upstream)
  })
  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    if (!authorized(req)) {
      client.on('error', () => {})
      client.end(
        'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="wirekit test proxy"\r\n\r\n',
      )
      return
    }
    tunnels.push(req.url ?? '')
    const [host, port] = (req.url ?? '').split(':')
    const upstream = connect(Number(port), host === 'localhost' ? '127.0.0.1' : host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      if (head.length > 0) upstream.write(head)
      upstream.pipe(client)
      client.pipe(upstream)
    })
    upstream.on('error', () => client.destroy())
    client.on('error', () => upstream.destroy())
    client.on('close', () => upstream.destroy())
  })
  const base = await track(server, 'http', '127.0.0.1')
  // defineProperties, not Object.assign: assign would copy each getter's value once instead of the getter.
  return Object.defineProperties(base, {
    tunnels: { get: () => tunnels },
    forwarded: { get: () => forwarded },
    refused: { get: () => refused },
  }) as TestProxy
}
