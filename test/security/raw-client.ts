// A hand-rolled client for the security tests: a raw TCP socket that sends whatever HELLO an attacker
// would, and collects the decoded envelopes the server answers with.
import net from 'node:net'
import { lengthField } from '../../src/framing/index.ts'
import { decodeEnvelope, Format, Kind, newEnvelope } from '../../src/messaging/wire/envelope.ts'
import { encodeFrame } from '../../src/messaging/wire/frame-writer.ts'

export const codec = lengthField({ lengthFieldLength: 4, maxFrameLength: 1 << 24 })

export type RawMessage = { kind: number; name: string; body: unknown }

export type RawClient = {
  socket: net.Socket
  messages: RawMessage[]
  closed: Promise<void>
  /** The first message of `kind`, within `ms`. */
  next(kind: number, ms?: number): Promise<RawMessage>
  send(frame: Buffer): void
  destroy(): void
}

export async function rawConnect(port: number): Promise<RawClient> {
  const socket = net.connect({ host: '127.0.0.1', port })
  socket.on('error', () => {})
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  const messages: RawMessage[] = []
  const decoder = codec.decoder()
  const env = newEnvelope()
  socket.on('data', (chunk) =>
    decoder.push(chunk, (frame) => {
      decodeEnvelope(frame, env)
      const text = frame.toString('utf8', env.payloadStart)
      let body: unknown = text
      if (env.format === Format.JSON) body = JSON.parse(text)
      messages.push({ kind: env.kind, name: env.name ?? '', body })
    }),
  )
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  return {
    socket,
    messages,
    closed,
    async next(kind, ms = 5000) {
      const deadline = Date.now() + ms
      for (;;) {
        const found = messages.find((m) => m.kind === kind)
        if (found !== undefined) return found
        if (Date.now() > deadline) throw new Error(`No message of kind ${kind} within ${ms} ms`)
        await new Promise((r) => setTimeout(r, 5))
      }
    },
    send(frame) {
      socket.write(frame)
    },
    destroy() {
      socket.destroy()
    },
  }
}

/** A HELLO frame carrying `hello` as JSON. */
export function helloFrame(hello: Record<string, unknown>): Buffer {
  return encodeFrame(codec, Kind.HELLO, Format.JSON, {
    body: JSON.stringify({ v: 1, lastReceived: 0, ...hello }),
  })
}

/** Connects, says `hello`, and returns the client with the WELCOME body. */
export async function rawHello(
  port: number,
  hello: Record<string, unknown>,
): Promise<{ raw: RawClient; welcome: { session: string; resumed: boolean; token?: string } }> {
  const raw = await rawConnect(port)
  raw.send(helloFrame(hello))
  const welcome = (await raw.next(Kind.WELCOME)).body as { session: string; resumed: boolean; token?: string }
  return { raw, welcome }
}

export { Format, Kind }
