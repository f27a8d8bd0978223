// A hostile HTTP origin on raw node:net: it reads each request head itself and answers with whatever bytes
// a test scripts (resets, stalls, lies about lengths), things node:http would refuse to send.
import { createServer, type Server, type Socket } from 'node:net'

/** Called for each request head, in order; it writes the response (or the fault) on the socket. */
export type RawHandler = (socket: Socket, head: RequestHead) => void

export type RequestHead = { method: string; path: string; headers: Record<string, string> }

export type RawOrigin = {
  url: string
  /** Request heads seen, in arrival order. */
  requests: RequestHead[]
  /** Connections accepted since start. */
  connections: number
  close(): Promise<void>
}

const MAX_HEAD = 64 * 1024

export async function rawOrigin(handler: RawHandler): Promise<RawOrigin> {
  const sockets = new Set<Socket>()
  const origin: RawOrigin = { url: '', requests: [], connections: 0, close: async () => {} }
  const server: Server = createServer((socket) => {
    origin.connections++
    sockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
    // Keep-alive: every head on the connection is handed over (the requests under test have no body).
    let buffered = Buffer.alloc(0)
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk])
      for (let end = buffered.indexOf('\r\n\r\n'); end >= 0; end = buffered.indexOf('\r\n\r\n')) {
        const head = parseHead(buffered.subarray(0, end).toString('latin1'))
        buffered = buffered.subarray(end + 4)
        origin.requests.push(head)
        handler(socket, head)
      }
      if (buffered.length > MAX_HEAD) socket.destroy()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  origin.url = `http://127.0.0.1:${port}/`
  origin.close = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy()
      server.close(() => resolve())
    })
  return origin
}

function parseHead(text: string): RequestHead {
  const [line = '', ...rest] = text.split('\r\n')
  const [method = '', path = ''] = line.split(' ')
  const headers: Record<string, string> = {}
  for (const header of rest) {
    const colon = header.indexOf(':')
    if (colon > 0) headers[header.slice(0, colon).trim().toLowerCase()] = header.slice(colon + 1).trim()
  }
  return { method, path, headers }
}

/** A response head; `extra` lines are written as they are. */
export function head(status: string, headers: Record<string, string | number>, extra = ''): string {
  let out = `HTTP/1.1 ${status}\r\n`
  for (const [name, value] of Object.entries(headers)) out += `${name}: ${value}\r\n`
  return `${out}${extra}\r\n`
}

/** Abortive close: the client sees ECONNRESET. */
export function reset(socket: Socket): void {
  if (!socket.destroyed) socket.resetAndDestroy()
}
