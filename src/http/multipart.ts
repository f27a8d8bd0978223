// multipart/form-data, streamed: parts are yielded one chunk at a time, so a large file (a Blob from
// `fs.openAsBlob(path)`, or a stream) never sits in memory. When every part's size is known the total length is
// known too, so the request carries Content-Length and upload progress has a total.
import { randomBytes } from 'node:crypto'
import type { Readable } from 'node:stream'
import { InvalidArgumentError } from '../errors.ts'

/** One part. Streams are read once, so a body with a stream part is never retried. */
export type MultipartPart = {
  name: string
  value: string | Uint8Array | Blob | Readable | AsyncIterable<Uint8Array>
  /** Makes the part a file: `filename="…"` and a content type (default application/octet-stream). */
  filename?: string
  contentType?: string
  /** Byte size of a stream part, when known (lets the request carry Content-Length). */
  size?: number
}

/** A FormData (Files and Blobs included), or parts (which may also be streams). */
export type MultipartInput = FormData | Iterable<MultipartPart>

export type EncodedMultipart = {
  contentType: string
  /** Total bytes, or undefined when a stream part has no declared size. */
  length: number | undefined
  /** False when a part is a one-shot stream. */
  replayable: boolean
  /** A fresh iterator over the encoded bytes (callable again when replayable). */
  chunks: () => AsyncGenerator<Uint8Array>
}

const CRLF = Buffer.from('\r\n')

/** Encodes parts lazily; only part headers are built up front. */
export function encodeMultipart(input: MultipartInput): EncodedMultipart {
  const boundary = `----wirekit${randomBytes(12).toString('hex')}`
  const parts = toParts(input)
  const heads: Buffer[] = []
  let length: number | undefined = 0
  let replayable = true
  for (const part of parts) {
    const head = Buffer.from(`--${boundary}\r\n${partHeaders(part)}\r\n`)
    heads.push(head)
    const size = sizeOf(part)
    length =
      length === undefined || size === undefined ? undefined : length + head.length + size + CRLF.length
    if (isStream(part.value)) replayable = false
  }
  const tail = Buffer.from(`--${boundary}--\r\n`)
  if (length !== undefined) length += tail.length
  async function* chunks(): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < parts.length; i++) {
      yield heads[i]
      const value = parts[i].value
      if (typeof value === 'string') yield Buffer.from(value)
      else if (value instanceof Uint8Array) yield value
      else if (value instanceof Blob) yield* value.stream()
      else yield* value
      yield CRLF
    }
    yield tail
  }
  return { contentType: `multipart/form-data; boundary=${boundary}`, length, replayable, chunks }
}

function toParts(input: MultipartInput): MultipartPart[] {
  const parts: MultipartPart[] = []
  if (input instanceof FormData) {
    for (const [name, value] of input) {
      if (typeof value === 'string') parts.push({ name, value })
      else parts.push({ name, value, filename: value.name, contentType: value.type || undefined })
    }
    return parts
  }
  for (const part of input) {
    if (typeof part?.name !== 'string' || part.value === undefined || part.value === null) {
      throw new InvalidArgumentError('multipart parts need a string name and a value')
    }
    parts.push(part)
  }
  return parts
}

function partHeaders(part: MultipartPart): string {
  let headers = `content-disposition: form-data; name="${escapeName(part.name)}"`
  const isFile = part.filename !== undefined || (part.value instanceof Blob && part.contentType !== undefined)
  if (part.filename !== undefined) headers += `; filename="${escapeName(part.filename)}"`
  headers += '\r\n'
  if (part.contentType !== undefined)
    headers += `content-type: ${part.contentType.replace(/[\r\n]/g, '')}\r\n`
  else if (isFile || typeof part.value !== 'string') headers += 'content-type: application/octet-stream\r\n'
  return headers
}

// WHATWG multipart/form-data encoding: quote, CR and LF in names become percent escapes.
function escapeName(name: string): string {
  return name.replace(/"/g, '%22').replace(/\r/g, '%0D').replace(/\n/g, '%0A')
}

function sizeOf(part: MultipartPart): number | undefined {
  const value = part.value
  if (typeof value === 'string') return Buffer.byteLength(value)
  if (value instanceof Uint8Array) return value.byteLength
  if (value instanceof Blob) return value.size
  return part.size
}

function isStream(value: MultipartPart['value']): boolean {
  return typeof value !== 'string' && !(value instanceof Uint8Array) && !(value instanceof Blob)
}
