// Server-side peers shared by the messaging benchmarks: a socket.io server (websocket transport
// only), a ws server and a raw `net` server, each on 127.0.0.1 port 0. The benchmarks attach their
// own handlers; these functions only start and stop the servers the same way every time.
import { once } from 'node:events'
import { createServer as createHttpServer } from 'node:http'
import net from 'node:net'
import { Server as SocketIoServer } from 'socket.io'
import { WebSocketServer } from 'ws'

/** A started server: where it listens and how to stop it (closing every connection). */
export type Running<T> = { server: T; port: number; close: () => Promise<void> }

/** Heartbeat every peer uses in the benchmarks that keep connections open (ms). */
export type Heartbeat = { interval: number; timeout: number }

export async function startSocketIo(heartbeat?: Heartbeat): Promise<Running<SocketIoServer>> {
  const http = createHttpServer()
  const server = new SocketIoServer(http, {
    transports: ['websocket'],
    serveClient: false,
    perMessageDeflate: false,
    ...(heartbeat ? { pingInterval: heartbeat.interval, pingTimeout: heartbeat.timeout } : {}),
  })
  http.listen(0, '127.0.0.1')
  await once(http, 'listening')
  const port = (http.address() as net.AddressInfo).port
  return {
    server,
    port,
    close: async () => {
      server.disconnectSockets(true)
      await server.close()
    },
  }
}

export async function startWs(heartbeat?: Heartbeat): Promise<Running<WebSocketServer>> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false })
  await once(server, 'listening')
  const port = (server.address() as net.AddressInfo).port
  // ws has no heartbeat of its own; this is the ping/pong loop its README recommends.
  const alive = new WeakSet<object>()
  server.on('connection', (ws) => {
    alive.add(ws)
    ws.on('pong', () => alive.add(ws))
  })
  const timer = heartbeat
    ? setInterval(() => {
        for (const ws of server.clients) {
          if (!alive.has(ws)) {
            ws.terminate()
            continue
          }
          alive.delete(ws)
          ws.ping()
        }
      }, heartbeat.interval)
    : undefined
  return {
    server,
    port,
    close: async () => {
      clearInterval(timer)
      for (const ws of server.clients) ws.terminate()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

export async function startRaw(onSocket: (sock: net.Socket) => void): Promise<Running<net.Server>> {
  const sockets = new Set<net.Socket>()
  const server = net.createServer({ noDelay: true }, (sock) => {
    sockets.add(sock)
    sock.once('close', () => sockets.delete(sock))
    sock.on('error', () => sock.destroy())
    onSocket(sock)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as net.AddressInfo).port
  return {
    server,
    port,
    close: async () => {
      for (const sock of sockets) sock.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
