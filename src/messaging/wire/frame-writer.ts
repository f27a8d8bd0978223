// Turns envelopes into framed bytes. Many frames are encoded into one output buffer per flush (one
// syscall for many messages). On the messaging wire codec (`wireCodec`: a 4-byte big-endian length, the
// layout src/framing's lengthField writes) envelopes are built in place in the output; any other
// FrameCodec gets each envelope built in a shared scratch buffer and framed by the codec itself.

import { type FrameCodec, lengthField } from '../../framing/index.ts'
import { Flag, type Format, headerLength, type Kind, writeHeader } from './envelope.ts'
import { type Body, bodyLength, writeBody } from './payload-codec.ts'

let scratch = Buffer.allocUnsafe(64 * 1024)
// Views of the scratch buffer by length, so framing a small envelope allocates no view object.
let views: Buffer[] = []
const CACHED_VIEWS = 2048

function ensureScratch(size: number): void {
  if (scratch.length >= size) return
  scratch = Buffer.allocUnsafe(Math.max(size, scratch.length * 2))
  views = []
}

function viewOf(length: number): Buffer {
  if (length >= CACHED_VIEWS) return scratch.subarray(0, length)
  let view = views[length]
  if (view === undefined) views[length] = view = scratch.subarray(0, length)
  return view
}

// Codecs made by wireCodec, with the largest envelope they frame: their frames are written in place.
const inPlace = new WeakMap<FrameCodec, number>()
let lastCodec: FrameCodec | undefined
let lastMax = -1

/**
 * The messaging wire codec: `lengthField({ lengthFieldLength: 4, maxFrameLength })`. Decoding is the
 * shared implementation; encoding writes the same 4-byte header directly (no scratch copy per message).
 */
export function wireCodec(maxFrameLength: number): FrameCodec {
  const codec = lengthField({ lengthFieldLength: 4, maxFrameLength })
  inPlace.set(codec, maxFrameLength)
  return codec
}

function inPlaceMax(codec: FrameCodec): number {
  if (codec !== lastCodec) {
    lastCodec = codec
    lastMax = inPlace.get(codec) ?? -1
  }
  return lastMax
}

/** Envelope bytes (without frame header) for these fields. */
export function envelopeLength(flags: number, nameBytes: number, bodyBytes: number): number {
  return headerLength(flags, nameBytes) + bodyBytes
}

/**
 * Encodes one envelope and frames it into `target` at `at`; returns the new offset.
 * `envelopeBytes` is `envelopeLength(...)` for the same fields, which the caller already knows.
 */
export function writeFrame(
  codec: FrameCodec,
  target: Buffer,
  at: number,
  envelopeBytes: number,
  kind: Kind,
  flags: number,
  seq: number,
  ack: number,
  id: number,
  name: string,
  body: Body,
  bodyBytes: number,
): number {
  if (envelopeBytes <= inPlaceMax(codec)) {
    // Same bytes as lengthField's encodeInto: big-endian length, then the envelope.
    target.writeUInt32BE(envelopeBytes, at)
    writeBody(target, writeHeader(target, at + 4, kind, flags, seq, ack, id, name), body, bodyBytes)
    return at + 4 + envelopeBytes
  }
  ensureScratch(envelopeBytes)
  const payloadAt = writeHeader(scratch, 0, kind, flags, seq, ack, id, name)
  writeBody(scratch, payloadAt, body, bodyBytes)
  return codec.encodeInto(viewOf(envelopeBytes), target, at)
}

/** One framed envelope in its own buffer: for handshake and control frames, off the hot path. */
export function encodeFrame(
  codec: FrameCodec,
  kind: Kind,
  format: Format,
  options: { seq?: number; ack?: number; id?: number; name?: string; body?: Body } = {},
): Buffer {
  let flags: number = format
  if (options.seq !== undefined) flags |= Flag.SEQ
  if (options.ack !== undefined) flags |= Flag.ACK
  if (options.id !== undefined) flags |= Flag.ID
  const name = options.name ?? ''
  if (name !== '') flags |= Flag.NAME
  const nameBytes = Buffer.byteLength(name)
  const bodyBytes = bodyLength(options.body)
  const size = envelopeLength(flags, nameBytes, bodyBytes)
  const out = Buffer.allocUnsafe(codec.encodedLength(size))
  const end = writeFrame(
    codec,
    out,
    0,
    size,
    kind,
    flags,
    options.seq ?? 0,
    options.ack ?? 0,
    options.id ?? 0,
    name,
    options.body,
    bodyBytes,
  )
  return end === out.length ? out : out.subarray(0, end)
}
