// A raw TCP peer speaking the messaging wire by hand, for the limit tests: it can send what no
// MessageClient would (huge headers, silence, reused ids, reserved names) and reads the server's frames.
import net from 'node:net'
import { lengthField } from '../../src/framing/index.ts'
import { decodeEnvelope, Format, Kind, newEnvelope } from '../../src/messaging/wire/envelope.ts'
import { encodeFrame } from '../../src/messaging/wire/frame-writer.ts'

export const codec = lengthField({ lengthFieldLength: 4, maxFrameLength: 1 << 30 })
export const hello = encodeFrame(codec, Kind.HELLO, Format.JSON, {
  body: JSON.stringify({ v: 1, lastReceived: 0 }),
})

export type Received = { kind: number; seq: number; id: number; name: string; payload: unknown }

export class RawPeer {
  readonly socket: net.Socket
  readonly frames: Received[] = []
  closed = false
  #decoder = codec.decoder()
  #envelope = newEnvelope()

  private constructor(socket: net.Socket) {
    this.socket = socket
    socket.on('error', () => {})
    socket.on('close', () => {
      this.closed = true
    })
    socket.on('data', (chunk) => {
      try {
        this.#decoder.push(chunk, (frame) => {
          const env = decodeEnvelope(frame, this.#envelope)
          const text = frame.toString('utf8', env.payloadStart)
          let payload: unknown = text
          if (env.format === Format.JSON) payload = text === '' ? undefined : JSON.parse(text)
          this.frames.push({ kind: env.kind, seq: env.seq, id: env.id, name: env.name, payload })
        })
      } catch {
        socket.destroy()
      }
    })
  }

  static connect(port: number): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port })
      socket.once('connect', () => resolve(new RawPeer(socket)))
      socket.once('error', reject)
    })
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes)
  }

  /** The GOAWAY the server sent, if any. */
  get goaway(): { code: string; reconnect: boolean } | undefined {
    return this.frames.find((f) => f.kind === Kind.GOAWAY)?.payload as { code: string; reconnect: boolean }
  }

  /** Says HELLO and waits for the WELCOME. */
  async login(ms = 5000): Promise<void> {
    this.write(hello)
    await this.until(() => this.frames.some((f) => f.kind === Kind.WELCOME), ms, 'WELCOME')
  }

  async until(check: () => boolean, ms: number, what: string): Promise<void> {
    const deadline = Date.now() + ms
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`Timed out after ${ms} ms waiting for ${what}`)
      await new Promise((r) => setTimeout(r, 5))
    }
  }

  destroy(): void {
    this.socket.destroy()
  }
}

/** A 4-byte big-endian length header announcing `length` bytes. */
export function header(length: number): Buffer {
  const out = Buffer.alloc(4)
  out.writeUInt32BE(length)
  return out
}

/** A reliable frame as a client would send it: an event, or a request when `id` is given. */
export function message(kind: number, seq: number, name: string, data: unknown, id?: number): Buffer {
  return encodeFrame(codec, kind as typeof Kind.EVENT, Format.JSON, {
    seq,
    id,
    name,
    body: JSON.stringify(data),
  })
}
