// Test helpers for the fault proxy: a real echo server on 127.0.0.1 port 0, clients, and bounded waits.
import { once } from 'node:events'
import { connect, createServer, type Server, type Socket } from 'node:net'

export type EchoServer = { port: number; server: Server; sockets: Set<Socket>; close(): Promise<void> }

/** An echo server: every byte comes back; a FIN is answered with a FIN. */
export async function startEcho(): Promise<EchoServer> {
  const sockets = new Set<Socket>()
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket)
    socket.on('data', (chunk) => socket.write(chunk))
    socket.on('end', () => socket.end())
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('echo server has no port')
  return {
    port: address.port,
    server,
    sockets,
    async close() {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** Connects to 127.0.0.1:port; the socket is destroyed by `sockets.destroyAll()` in after(). */
export async function connectTo(port: number, sockets: Socket[]): Promise<Socket> {
  const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true })
  sockets.push(socket)
  socket.on('error', () => {})
  await once(socket, 'connect')
  return socket
}

/** Collects bytes until `length` arrived; rejects after `ms`. Resolves with the bytes and the chunk count. */
export function receive(
  socket: Socket,
  length: number,
  ms: number,
): Promise<{ bytes: Buffer; chunks: number }> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = []
    let received = 0
    const timer = setTimeout(() => {
      socket.off('data', onData)
      reject(new Error(`received ${received} of ${length} bytes within ${ms} ms`))
    }, ms)
    function onData(chunk: Buffer): void {
      parts.push(chunk)
      received += chunk.length
      if (received >= length) {
        clearTimeout(timer)
        socket.off('data', onData)
        resolve({ bytes: Buffer.concat(parts), chunks: parts.length })
      }
    }
    socket.on('data', onData)
  })
}

/** Bytes that arrive on `socket` during the next `ms` ms. */
export async function bytesDuring(socket: Socket, ms: number): Promise<number> {
  let received = 0
  const onData = (chunk: Buffer): void => {
    received += chunk.length
  }
  socket.on('data', onData)
  await new Promise((resolve) => setTimeout(resolve, ms))
  socket.off('data', onData)
  return received
}

/** Resolves with the socket's error code, or 'closed' if it closed without one; rejects after `ms`. */
export function closeReason(socket: Socket, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    if (socket.destroyed) return resolve('closed')
    const timer = setTimeout(() => reject(new Error(`socket still open after ${ms} ms`)), ms)
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      resolve(error.code ?? 'error')
    })
    socket.once('close', () => {
      clearTimeout(timer)
      resolve('closed')
    })
  })
}

/** Polls `condition` every 10 ms until true; rejects after `ms`. */
export async function waitFor(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** Bytes 0..n-1 as a counting pattern, so any reordering or loss shows. */
export function pattern(n: number): Buffer {
  const bytes = Buffer.allocUnsafe(n)
  for (let i = 0; i < n; i++) bytes[i] = (i * 7 + (i >> 8)) & 0xff
  return bytes
}
