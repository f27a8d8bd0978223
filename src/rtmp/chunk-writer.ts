// The chunk stream's send side, sans-I/O: a message in, its chunks out as one buffer.
// Every message starts with a type-0 header (absolute timestamp, 12 bytes or more) and continues in
// type-3 chunks, which repeat the extended timestamp when there is one. Type 0 costs a few bytes more
// than the compressed types but makes a message's bytes independent of what went before on the
// connection: the server encodes a media message once and writes the same buffer to every player.

/** The bytes of a basic header for `csid` (1, 2 or 3 bytes). */
function basicHeaderLength(csid: number): number {
  return csid < 64 ? 1 : csid < 320 ? 2 : 3
}

function writeBasicHeader(out: Buffer, at: number, fmt: number, csid: number): number {
  if (csid < 64) {
    out[at] = (fmt << 6) | csid
    return at + 1
  }
  if (csid < 320) {
    out[at] = fmt << 6
    out[at + 1] = csid - 64
    return at + 2
  }
  out[at] = (fmt << 6) | 1
  out[at + 1] = (csid - 64) & 0xff
  out[at + 2] = (csid - 64) >> 8
  return at + 3
}

/** The chunks of one message, as one buffer. `csid` is 2..65599. */
export function encodeChunks(
  type: number,
  streamId: number,
  timestamp: number,
  payload: Uint8Array,
  csid: number,
  chunkSize: number,
): Buffer {
  const ts = timestamp >>> 0
  const extended = ts >= 0xffffff
  const basic = basicHeaderLength(csid)
  const length = payload.length
  const continuations = length === 0 ? 0 : Math.ceil(length / chunkSize) - 1
  const continuationHeader = basic + (extended ? 4 : 0)
  const out = Buffer.allocUnsafe(
    basic + 11 + (extended ? 4 : 0) + length + continuations * continuationHeader,
  )
  let at = writeBasicHeader(out, 0, 0, csid)
  out.writeUIntBE(extended ? 0xffffff : ts, at, 3)
  out.writeUIntBE(length, at + 3, 3)
  out[at + 6] = type
  out.writeUInt32LE(streamId >>> 0, at + 7)
  at += 11
  if (extended) at = out.writeUInt32BE(ts, at)
  let sent = 0
  for (;;) {
    const n = Math.min(chunkSize, length - sent)
    out.set(payload.subarray(sent, sent + n), at)
    at += n
    sent += n
    if (sent >= length) break
    at = writeBasicHeader(out, at, 3, csid)
    if (extended) at = out.writeUInt32BE(ts, at)
  }
  return out
}
