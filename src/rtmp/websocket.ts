// The little of WebSocket (RFC 6455) that WebSocket-FLV needs, sans-I/O: the upgrade answer, the
// header of an unmasked binary frame from the server, and the header of a (masked) frame from the
// client, read with limits so a peer cannot make the server buffer much (a player sends nothing but
// pings and a close).
import { createHash } from 'node:crypto'

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'

export const WsOpcode = { CONTINUATION: 0, TEXT: 1, BINARY: 2, CLOSE: 8, PING: 9, PONG: 10 } as const

/** The 101 answer to an upgrade request carrying `key` (its Sec-WebSocket-Key). */
export function wsAccept(key: string, extraHeaders = ''): Buffer {
  const accept = createHash('sha1').update(`${key}${GUID}`).digest('base64')
  return Buffer.from(
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n${extraHeaders}\r\n`,
    'latin1',
  )
}

/** A whole server frame (FIN set, unmasked) around `payload`. */
export function wsFrame(opcode: number, payload: Uint8Array): Buffer {
  const n = payload.length
  const head = n < 126 ? 2 : n < 0x10000 ? 4 : 10
  const out = Buffer.allocUnsafe(head + n)
  out[0] = 0x80 | opcode
  if (n < 126) out[1] = n
  else if (n < 0x10000) {
    out[1] = 126
    out.writeUInt16BE(n, 2)
  } else {
    out[1] = 127
    out.writeUInt32BE(Math.floor(n / 0x100000000), 2)
    out.writeUInt32BE(n >>> 0, 6)
  }
  out.set(payload, head)
  return out
}

/** A client frame's header, once its first two bytes are known. */
export type WsHeader = {
  opcode: number
  masked: boolean /** 0, 2 or 8 more length bytes follow. */
  extra: number
  length: number
}

export function wsHeader(first2: Buffer): WsHeader {
  const len7 = first2[1]! & 0x7f
  return {
    opcode: first2[0]! & 0x0f,
    masked: (first2[1]! & 0x80) !== 0,
    extra: len7 === 126 ? 2 : len7 === 127 ? 8 : 0,
    length: len7,
  }
}

/** The payload length from the 2 or 8 extended length bytes (a 64-bit length above 2^53 reads as Infinity). */
export function wsExtendedLength(bytes: Buffer): number {
  if (bytes.length === 2) return bytes.readUInt16BE(0)
  const high = bytes.readUInt32BE(0)
  return high >= 0x200000 ? Number.POSITIVE_INFINITY : high * 0x100000000 + bytes.readUInt32BE(4)
}

/** Unmasks a client payload in place. */
export function wsUnmask(payload: Buffer, mask: Buffer): Buffer {
  for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i & 3]!
  return payload
}
