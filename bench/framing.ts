// Decode throughput of the framing codecs against a hand-written slicer, in the same run.
// 64-byte payloads, 4-byte big-endian length header, fed in 64 KiB chunks (frames straddle chunk edges).
// Usage: node bench/framing.ts [--quick]
import { delimited, fixedLength, lengthField } from '../src/framing/index.ts'

const quick = process.argv.includes('--quick')
const PAYLOAD = 64
const CHUNK = 64 * 1024
const STREAM_BYTES = (quick ? 4 : 16) * 1024 * 1024
const ROUNDS = quick ? 3 : 7
const ROUND_MS = quick ? 150 : 400

type Case = { name: string; chunks: Buffer[]; frames: number; run: (chunks: Buffer[]) => number }

/** Splits `stream` into CHUNK-byte pieces, each a fresh buffer as a socket would deliver. */
function chunked(stream: Buffer): Buffer[] {
  const chunks: Buffer[] = []
  for (let at = 0; at < stream.length; at += CHUNK) chunks.push(Buffer.from(stream.subarray(at, at + CHUNK)))
  return chunks
}

function buildStream(frameBytes: (payload: Buffer) => Buffer): { chunks: Buffer[]; frames: number } {
  const payload = Buffer.alloc(PAYLOAD, 0x61)
  const one = frameBytes(payload)
  const frames = Math.floor(STREAM_BYTES / one.length)
  const stream = Buffer.allocUnsafe(frames * one.length)
  for (let i = 0; i < frames; i++) one.copy(stream, i * one.length)
  return { chunks: chunked(stream), frames }
}

let sink = 0
const onFrame = (frame: Buffer): void => {
  sink += frame.length
}

const lengthCodec = lengthField({ lengthFieldLength: 4, maxFrameLength: 1 << 20 })
const lineCodec = delimited({ delimiter: '\n', maxFrameLength: 1 << 16 })
const fixedCodec = fixedLength(PAYLOAD)
const lengthStream = buildStream((p) => lengthCodec.encode(p))
const lineStream = buildStream((p) => lineCodec.encode(p))
const fixedStream = buildStream((p) => fixedCodec.encode(p))

/** The loop people write by hand: parse in place, Buffer.concat the leftover with the next chunk. */
function rawLengthSlicer(chunks: Buffer[]): number {
  let pending: Buffer | null = null
  let count = 0
  for (const chunk of chunks) {
    const buf: Buffer = pending === null ? chunk : Buffer.concat([pending, chunk])
    let pos = 0
    while (buf.length - pos >= 4) {
      const length = buf.readUInt32BE(pos)
      if (buf.length - pos - 4 < length) break
      onFrame(buf.subarray(pos + 4, pos + 4 + length))
      pos += 4 + length
      count++
    }
    pending = pos < buf.length ? buf.subarray(pos) : null
  }
  return count
}

/** The bare minimum: whole frames inside each chunk, edge frames dropped. Not a decoder: a floor on per-frame work. */
function rawInChunkCeiling(chunks: Buffer[]): number {
  let count = 0
  for (const chunk of chunks) {
    let pos = 0
    while (chunk.length - pos >= 4) {
      const length = chunk.readUInt32BE(pos)
      if (chunk.length - pos - 4 < length) break
      onFrame(chunk.subarray(pos + 4, pos + 4 + length))
      pos += 4 + length
      count++
    }
  }
  return count
}

function rawLineSlicer(chunks: Buffer[]): number {
  let pending: Buffer | null = null
  let count = 0
  for (const chunk of chunks) {
    const buf: Buffer = pending === null ? chunk : Buffer.concat([pending, chunk])
    let pos = 0
    for (let at = buf.indexOf(10, pos); at >= 0; at = buf.indexOf(10, pos)) {
      onFrame(buf.subarray(pos, at))
      pos = at + 1
      count++
    }
    pending = pos < buf.length ? buf.subarray(pos) : null
  }
  return count
}

function withDecoder(codec: { decoder(): { push(c: Buffer, f: (b: Buffer) => void): void } }) {
  return (chunks: Buffer[]): number => {
    const decoder = codec.decoder()
    let count = 0
    const counted = (frame: Buffer): void => {
      count++
      onFrame(frame)
    }
    for (const chunk of chunks) decoder.push(chunk, counted)
    return count
  }
}

const cases: Case[] = [
  { name: 'wirekit lengthField', ...lengthStream, run: withDecoder(lengthCodec) },
  { name: 'raw length slicer (concat leftover)', ...lengthStream, run: rawLengthSlicer },
  {
    name: 'raw in-chunk slicer, readUInt32BE (drops edge frames)',
    chunks: lengthStream.chunks,
    frames: rawInChunkCeiling(lengthStream.chunks),
    run: rawInChunkCeiling,
  },
  { name: 'wirekit delimited "\\n"', ...lineStream, run: withDecoder(lineCodec) },
  { name: 'raw line slicer (indexOf + concat)', ...lineStream, run: rawLineSlicer },
  { name: 'wirekit fixedLength', ...fixedStream, run: withDecoder(fixedCodec) },
]

/** Frames per second of one case over one round of about ROUND_MS. */
function measure(c: Case): number {
  let frames = 0
  const start = process.hrtime.bigint()
  let elapsed = 0
  while (elapsed < ROUND_MS) {
    const got = c.run(c.chunks)
    if (got !== c.frames) throw new Error(`${c.name}: decoded ${got} frames, expected ${c.frames}`)
    frames += got
    elapsed = Number(process.hrtime.bigint() - start) / 1e6
  }
  return (frames / elapsed) * 1000
}

for (const c of cases) measure(c) // warm-up
const results = new Map<string, number[]>(cases.map((c) => [c.name, []]))
for (let round = 0; round < ROUNDS; round++) {
  for (const c of cases) results.get(c.name)!.push(measure(c)) // interleaved, so load hits all alike
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const rate = (name: string): number => median(results.get(name)!)

const fmt = (n: number): string => `${(n / 1e6).toFixed(2)} M`
const rows = [
  ['wirekit lengthField', 'raw length slicer (concat leftover)'],
  ['raw length slicer (concat leftover)', 'raw length slicer (concat leftover)'],
  ['raw in-chunk slicer, readUInt32BE (drops edge frames)', 'raw length slicer (concat leftover)'],
  ['wirekit delimited "\\n"', 'raw line slicer (indexOf + concat)'],
  ['raw line slicer (indexOf + concat)', 'raw line slicer (indexOf + concat)'],
  ['wirekit fixedLength', 'raw length slicer (concat leftover)'],
]
console.log(`## Framing: decode throughput, ${PAYLOAD}-byte payloads in ${CHUNK / 1024} KiB chunks\n`)
console.log(
  `Node ${process.version}, median of ${ROUNDS} interleaved rounds of ${ROUND_MS} ms${quick ? ' (--quick)' : ''}.\n`,
)
console.log('| decoder | frames/s | payload MB/s | ratio vs raw peer |')
console.log('| --- | ---: | ---: | ---: |')
for (const [name, peer] of rows) {
  const r = rate(name!)
  console.log(
    `| ${name} | ${fmt(r)} | ${((r * PAYLOAD) / 1e6).toFixed(0)} | ${(r / rate(peer!)).toFixed(2)}× |`,
  )
}
if (sink < 0) console.log(sink) // keeps the frame sink observable
