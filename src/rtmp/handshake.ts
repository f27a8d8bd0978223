// The RTMP handshake, sans-I/O: C0+C1 → S0+S1+S2 → C2 (1 + 1536 + 1536 bytes each way).
// Two forms exist. The simple one (RTMP 1.0 spec: S2 echoes C1) and the digest one Flash Player and
// ffmpeg send (C1 carries a version and an HMAC-SHA256 digest at an offset found from four bytes of
// C1; the server must answer with its own digest, and an S2 signed with a key made from the client's
// digest). A client that sent the digest form and sees a digest-form S1 checks it, so we answer in kind.
import { createHmac, randomBytes } from 'node:crypto'
import { ErrorCodes, ProtocolError } from '../errors.ts'

export const HANDSHAKE_SIZE = 1536
export const RTMP_VERSION = 3

// The published constants of the digest form: a text key followed by the same 32 bytes for both sides.
const KEY_TAIL = Buffer.from('f0eec24a8068bee82e00d0d1029e7e576eec5d2d29806fab93b8e636cfeb31ae', 'hex')
const PLAYER_KEY_TEXT = Buffer.from('Genuine Adobe Flash Player 001')
const SERVER_KEY_TEXT = Buffer.from('Genuine Adobe Flash Media Server 001')
const PLAYER_KEY_FULL = Buffer.concat([PLAYER_KEY_TEXT, KEY_TAIL])
const SERVER_KEY_FULL = Buffer.concat([SERVER_KEY_TEXT, KEY_TAIL])
/** The version S1 announces in the digest form (what FMS 3.5 answered). */
const SERVER_VERSION = Buffer.of(4, 5, 0, 1)
const DIGEST = 32

function hmac(key: Uint8Array, ...parts: Uint8Array[]): Buffer {
  const h = createHmac('sha256', key)
  for (const part of parts) h.update(part)
  return h.digest()
}

/** Where the digest sits in a 1536-byte C1/S1, for scheme 0 (offset bytes at 8) or 1 (at 772). */
export function digestOffset(packet: Uint8Array, scheme: 0 | 1): number {
  const base = scheme === 0 ? 8 : 772
  const sum = packet[base]! + packet[base + 1]! + packet[base + 2]! + packet[base + 3]!
  return (sum % 728) + base + 4
}

function digestAt(packet: Uint8Array, offset: number, key: Uint8Array): Buffer {
  return hmac(key, packet.subarray(0, offset), packet.subarray(offset + DIGEST))
}

/** The scheme whose digest checks out under `key`, or -1. */
export function findDigest(
  packet: Uint8Array,
  key: Uint8Array,
): { scheme: 0 | 1; offset: number } | undefined {
  for (const scheme of [0, 1] as const) {
    const offset = digestOffset(packet, scheme)
    if (digestAt(packet, offset, key).equals(packet.subarray(offset, offset + DIGEST)))
      return { scheme, offset }
  }
  return undefined
}

/** Writes a digest into `packet` (random apart from time and version) under `key`, in `scheme`. */
export function signPacket(packet: Buffer, key: Uint8Array, scheme: 0 | 1): Buffer {
  const offset = digestOffset(packet, scheme)
  digestAt(packet, offset, key).copy(packet, offset)
  return packet.subarray(offset, offset + DIGEST)
}

/** The keys of the digest form, for tests and for a client that wants to send it. */
export const handshakeKeys = {
  player: PLAYER_KEY_TEXT,
  server: SERVER_KEY_TEXT,
  playerFull: PLAYER_KEY_FULL,
  serverFull: SERVER_KEY_FULL,
}

/**
 * The server's answer to C0+C1 (1537 bytes): S0+S1+S2 (3073 bytes). Throws WK_RTMP_HANDSHAKE for a
 * version other than 3 (RTMPE's 6 and 8 are not supported).
 */
export function answerHandshake(c0c1: Uint8Array, now = 0): Buffer {
  if (c0c1.length !== 1 + HANDSHAKE_SIZE)
    throw new ProtocolError(ErrorCodes.RTMP_HANDSHAKE, 'C0+C1 must be 1537 bytes')
  if (c0c1[0] !== RTMP_VERSION)
    throw new ProtocolError(
      ErrorCodes.RTMP_HANDSHAKE,
      `unsupported RTMP version ${c0c1[0]} (only 3, plain RTMP)`,
    )
  const c1 = Buffer.from(c0c1.buffer, c0c1.byteOffset + 1, HANDSHAKE_SIZE)
  const out = Buffer.allocUnsafe(1 + 2 * HANDSHAKE_SIZE)
  out[0] = RTMP_VERSION
  const s1 = out.subarray(1, 1 + HANDSHAKE_SIZE)
  const s2 = out.subarray(1 + HANDSHAKE_SIZE)
  randomBytes(HANDSHAKE_SIZE).copy(s1)
  s1.writeUInt32BE(now >>> 0, 0)
  // A zero version in C1 means the simple form; otherwise a digest may be there.
  const client = c1.readUInt32BE(4) === 0 ? undefined : findDigest(c1, PLAYER_KEY_TEXT)
  if (client === undefined) {
    s1.writeUInt32BE(0, 4)
    c1.copy(s2) // simple form: S2 echoes C1
    return out
  }
  SERVER_VERSION.copy(s1, 4)
  signPacket(s1, SERVER_KEY_TEXT, client.scheme)
  const clientDigest = c1.subarray(client.offset, client.offset + DIGEST)
  randomBytes(HANDSHAKE_SIZE - DIGEST).copy(s2)
  const key = hmac(SERVER_KEY_FULL, clientDigest)
  hmac(key, s2.subarray(0, HANDSHAKE_SIZE - DIGEST)).copy(s2, HANDSHAKE_SIZE - DIGEST)
  return out
}

/** A client's C0+C1, simple form (version zero): what nginx-rtmp, ffmpeg and our server all accept. */
export function clientHello(now = 0): Buffer {
  const out = randomBytes(1 + HANDSHAKE_SIZE)
  out[0] = RTMP_VERSION
  out.writeUInt32BE(now >>> 0, 1)
  out.writeUInt32BE(0, 5)
  return out
}

/** The client's C2 for a server's S0+S1+S2 (3073 bytes): S1 echoed. Throws WK_RTMP_HANDSHAKE for a bad S0. */
export function clientAck(s0s1s2: Uint8Array): Buffer {
  if (s0s1s2.length !== 1 + 2 * HANDSHAKE_SIZE)
    throw new ProtocolError(ErrorCodes.RTMP_HANDSHAKE, 'S0+S1+S2 must be 3073 bytes')
  if (s0s1s2[0] !== RTMP_VERSION)
    throw new ProtocolError(ErrorCodes.RTMP_HANDSHAKE, `server answered RTMP version ${s0s1s2[0]}`)
  return Buffer.from(s0s1s2.subarray(1, 1 + HANDSHAKE_SIZE))
}
