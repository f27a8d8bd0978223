// Real local servers for HTTP tests: node:http, node:https (certificates from certs.ts), HTTP/2 with HTTP/1.1
// fallback, and an HTTP proxy that tunnels CONNECT and forwards absolute-form requests. All on 127.0.0.1 port 0;
// `close()` ends every open connection so a test file exits by itself.
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

function track(server: Closable, scheme: string, host: string): Promise<TestServer> {
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
    server.listen(0, '127.0.0.1', () => {
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

/** A plain HTTP/1.1 server on 127.0.0.1. */
export function startHttpServer(handler: Handler): Promise<TestServer> {
  const server = createHttpServer({ keepAliveTimeout: 5000 }, handler)
  return track(server, 'http', '127.0.0.1')
}

/** An HTTPS server with `pair` (default: the CA-signed localhost certificate); `host` names the URL's host. */
export function startHttpsServer(
  handler: Handler,
  pair: KeyPair,
  options: { host?: string; h2?: boolean } = {},
): Promise<TestServer> {
  const host = options.host ?? 'localhost'
  if (options.h2 === true) {
    const server = createSecureServer({ key: pair.key, cert: pair.cert, allowHTTP1: true }, handler as never)
    return track(server, 'https', host)
  }
  const server = createHttpsServer({ key: pair.key, cert: pair.cert }, handler)
  return track(server, 'https', host)
}

export type TestProxy = TestServer & {
  /** `host:port` targets of CONNECT requests seen. */
  readonly tunnels: string[]
  /** Absolute-form URLs forwarded (plain http through the proxy). */
  readonly forwarded: string[]
}

/** An HTTP proxy: CONNECT tunnels for https, absolute-form forwarding for http. */
export async function startProxy(): Promise<TestProxy> {
  const tunnels: string[] = []
  const forwarded: string[] = []
  const server = createHttpServer((req, res) => {
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
  return Object.assign(base, {
    get tunnels() {
      return tunnels
    },
    get forwarded() {
      return forwarded
    },
  })
}
