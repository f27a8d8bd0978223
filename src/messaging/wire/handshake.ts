// The versioned handshake and the control messages that carry JSON: HELLO, WELCOME, GOAWAY.
//
//   client                                  server
//     │── HELLO { v, session?, token?, lastReceived, credentials?, batch? } ──►│  authenticate (with timeout), then
//     │── (resuming: unacknowledged messages, no wait) ───────►│  held until the session is known
//     │                                                          │  resume the session or open a new one
//     │◄── WELCOME { v, session, token, resumed, lastReceived, heartbeat, maxFrameLength, batch? } ──│
//     │   both sides drop what the other acknowledged (lastReceived) and resend the rest, in order
//     │◄── GOAWAY { code, message, reconnect } ── refusal (auth, version, full) or server closing
//
// A resume that the server cannot honour is answered with a fresh session and `resumed: false`; the
// messages held behind that HELLO are dropped unread, and the client reports `sessionLost` with what
// earlier transports carried without an acknowledgement. A session resumes only with its secret resume
// token (from the WELCOME) and, where authenticate gave one, the same identity: the id alone is public.

import { ErrorCodes, ProtocolError, WirekitError } from '../../errors.ts'
import type { FrameCodec } from '../../framing/index.ts'
import type { Heartbeat } from '../heartbeat.ts'
import { Format, Kind } from './envelope.ts'
import { encodeFrame } from './frame-writer.ts'

export const PROTOCOL_VERSION = 1

/** Largest HELLO frame a server parses (credentials included), in bytes. @default 16 KiB */
export const DEFAULT_MAX_HELLO_LENGTH = 16 * 1024
/** Deepest nesting of arrays and objects in a JSON HELLO. */
const MAX_HELLO_DEPTH = 32

export type Hello = {
  v: number
  /** Session to resume; absent for a new session. */
  session?: string
  /** The resume token the WELCOME of that session carried: the proof that the client owns it. */
  token?: string
  /** Highest sequence number the client received from the server in that session. */
  lastReceived: number
  credentials?: unknown
  /** WebSocket only: the largest batch envelope (./batch.ts) the client accepts; absent: send none. */
  batch?: number
}

export type Welcome = {
  v: number
  session: string
  /** Secret that resumes this session (with `session`); never printed, listed or used as a room. */
  token: string
  resumed: boolean
  /** Highest sequence number the server received from the client in this session. */
  lastReceived: number
  heartbeat: Heartbeat
  maxFrameLength: number
  /** WebSocket only, when the HELLO offered batches: the largest batch the server accepts. */
  batch?: number
}

export type Goaway = {
  code: string
  message: string
  /** Whether the client should reconnect (server closing) or give up (auth failed). */
  reconnect: boolean
}

function bad(what: string): never {
  throw new ProtocolError(ErrorCodes.PROTOCOL, `Bad handshake: ${what}`)
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

// Peer-sent values are never coerced with String()/Number(): `{"toString":0}` makes both throw a TypeError.
function isPositive(value: unknown): value is number {
  return typeof value === 'number' && value > 0
}

function describe(value: unknown): string {
  return typeof value === 'number' || typeof value === 'string' ? String(value).slice(0, 32) : typeof value
}

function isSeq(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}

/**
 * Checks a HELLO frame before anything parses it: at most `maxLength` bytes and, in JSON, nested at most
 * MAX_HELLO_DEPTH deep (one pass over the bytes, no allocation). Credentials are the client's to choose:
 * without this, a megabyte of nested JSON costs the server a hundred milliseconds per connection.
 */
export function checkHelloFrame(frame: Buffer, payloadStart: number, json: boolean, maxLength: number): void {
  if (frame.length > maxLength) bad(`HELLO of ${frame.length} bytes is over ${maxLength}`)
  if (!json) return
  let depth = 0
  let inString = false
  for (let i = payloadStart; i < frame.length; i++) {
    const c = frame[i]!
    if (inString) {
      if (c === 0x5c)
        i++ // backslash: skip the escaped byte
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > MAX_HELLO_DEPTH) bad(`HELLO nested over ${MAX_HELLO_DEPTH} deep`)
    } else if (c === 0x5d || c === 0x7d) depth--
  }
}

export function parseHello(value: unknown): Hello {
  if (!isObject(value)) bad('HELLO is not an object')
  if (value.v !== PROTOCOL_VERSION) bad(`unsupported protocol version ${describe(value.v)}`)
  if (value.session !== undefined && (typeof value.session !== 'string' || value.session.length > 128)) {
    bad('HELLO session is not a short string')
  }
  if (value.token !== undefined && (typeof value.token !== 'string' || value.token.length > 128)) {
    bad('HELLO token is not a short string')
  }
  if (!isSeq(value.lastReceived)) bad('HELLO lastReceived is not a sequence number')
  return value as Hello
}

export function parseWelcome(value: unknown): Welcome {
  if (!isObject(value)) bad('WELCOME is not an object')
  if (value.v !== PROTOCOL_VERSION) bad(`unsupported protocol version ${describe(value.v)}`)
  if (typeof value.session !== 'string') bad('WELCOME session is not a string')
  if (typeof value.token !== 'string' || value.token.length < 16 || value.token.length > 128)
    bad('WELCOME token is not a resume token')
  if (typeof value.resumed !== 'boolean') bad('WELCOME resumed is not a boolean')
  if (!isSeq(value.lastReceived)) bad('WELCOME lastReceived is not a sequence number')
  const hb = value.heartbeat
  if (!isObject(hb) || !isPositive(hb.interval) || !isPositive(hb.timeout))
    bad('WELCOME heartbeat is invalid')
  if (!isPositive(value.maxFrameLength)) bad('WELCOME maxFrameLength is invalid')
  return value as Welcome
}

export function parseGoaway(value: unknown): Goaway {
  if (!isObject(value) || typeof value.code !== 'string') bad('GOAWAY without a code')
  return {
    code: value.code,
    message: typeof value.message === 'string' ? value.message : '',
    reconnect: value.reconnect === true,
  }
}

/** A GOAWAY frame telling the peer why its connection ends, for errors the peer caused. */
export function goawayFor(codec: FrameCodec, error: Error): Buffer | undefined {
  if (!(error instanceof WirekitError)) return undefined
  const code = error.code
  const reconnect =
    code === ErrorCodes.RATE_LIMITED ||
    code === ErrorCodes.SLOW_CONSUMER ||
    code === ErrorCodes.SERVER_CLOSING
  if (
    !reconnect &&
    !(error instanceof ProtocolError) &&
    code !== ErrorCodes.AUTH_FAILED &&
    code !== ErrorCodes.AUTH_TIMEOUT
  ) {
    return undefined
  }
  return goawayFrame(codec, { code, message: error.message, reconnect })
}

export function goawayFrame(codec: FrameCodec, goaway: Goaway): Buffer {
  return encodeFrame(codec, Kind.GOAWAY, Format.JSON, { body: JSON.stringify(goaway) })
}
