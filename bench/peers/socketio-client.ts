// A socket.io client as every benchmark opens it: websocket transport only, no reconnection, its own
// connection (forceNew: otherwise clients to one URL share a single multiplexed connection).
import { io, type Socket } from 'socket.io-client'

/** Resolves with a connected client, or rejects with the connect error. */
export function connectSocketIo(port: number): Promise<Socket> {
  const client = io(`http://127.0.0.1:${port}`, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  })
  return new Promise((resolve, reject) => {
    client.once('connect', () => {
      client.off('connect_error', reject)
      resolve(client)
    })
    client.once('connect_error', reject)
  })
}
