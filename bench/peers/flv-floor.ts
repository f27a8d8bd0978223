// The floor under any fan-out server, as a contender of bench/rtmp-fanout.ts: HTTP-FLV players of the
// same kind as the others, served by a process that does no protocol work at all. It makes the
// bench's stream itself (the same 15 KB video + 200 B audio every 40 ms, the send time in each video
// frame) and writes each frame to every player as one prebuilt buffer with net.Socket.write: no
// publisher to read, no parsing, no sessions, no per-player decision. Whatever a relay server does, it
// also pays these writes, so half of another server's CPU per megabit below this floor is out of reach.
// Run by rtmp-fanout.ts (`--floor`): forked, it reports { type: 'ready', http } and exits on a message.
import net from 'node:net'
import { encodeFlvTag, flvHeader } from '../../src/rtmp/index.ts'
import { AAC_CONFIG, AVC_CONFIG, audioFrame, FPS, videoFrame } from './rtmp-stream.ts'

const HEAD = Buffer.concat([
  Buffer.from(
    'HTTP/1.1 200 OK\r\nContent-Type: video/x-flv\r\nConnection: close\r\nCache-Control: no-cache\r\n\r\n',
    'latin1',
  ),
  flvHeader(true, true),
  encodeFlvTag(9, 0, AVC_CONFIG),
  encodeFlvTag(8, 0, AAC_CONFIG),
])

const players = new Set<net.Socket>()
const server = net.createServer((socket) => {
  socket.on('error', () => {})
  socket.on('close', () => players.delete(socket))
  let request = ''
  const onData = (chunk: Buffer): void => {
    request += chunk.toString('latin1')
    if (!request.includes('\r\n\r\n')) return
    socket.off('data', onData)
    socket.resume() // players send nothing more; keep reading so a close is seen
    socket.write(HEAD)
    players.add(socket)
  }
  socket.on('data', onData)
})
server.listen(0, '127.0.0.1', () => {
  process.send!({ type: 'ready', rtmp: 0, http: (server.address() as net.AddressInfo).port })
})

// One joined buffer per frame, made once, written to every player: the least work a frame can cost.
const start = performance.now()
let n = 0
const tick = (): void => {
  const ts = Math.round((n * 1000) / FPS)
  const frame = Buffer.concat([encodeFlvTag(9, ts, videoFrame(n)), encodeFlvTag(8, ts, audioFrame())])
  for (const socket of players) socket.write(frame)
  n++
  setTimeout(tick, Math.max(0, start + (n * 1000) / FPS - performance.now()))
}
tick()

process.on('message', () => process.exit(0))
