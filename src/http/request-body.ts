// Request serialisation: json, urlencoded form, multipart or a raw body become one RequestBody, which knows its
// content type, its length when knowable, whether it can be sent again (for retries and redirects), and how to
// produce the bytes for one attempt, counted for upload progress when asked.
import type { Readable } from 'node:stream'
import { InvalidArgumentError } from '../errors.ts'
import { encodeMultipart } from './multipart.ts'
import { countChunks, type ProgressReporter, slices } from './progress.ts'
import { type QueryOptions, serializeQuery } from './query.ts'
import type { HttpRequestOptions } from './types.ts'

/** What undici accepts as a body. */
export type DispatchBody = string | Uint8Array | Readable | AsyncIterable<Uint8Array> | null

export class RequestBody {
  readonly contentType: string | undefined
  readonly length: number | undefined
  readonly replayable: boolean
  readonly #fixed: string | Uint8Array | undefined
  readonly #make: (() => AsyncIterable<Uint8Array> | Readable) | undefined

  constructor(
    fixed: string | Uint8Array | undefined,
    make: (() => AsyncIterable<Uint8Array> | Readable) | undefined,
    contentType: string | undefined,
    length: number | undefined,
    replayable: boolean,
  ) {
    this.#fixed = fixed
    this.#make = make
    this.contentType = contentType
    this.length = length
    this.replayable = replayable
  }

  /** The body for one attempt; with a reporter, chunks are counted as they are handed to the connection. */
  forAttempt(progress: ProgressReporter | undefined): DispatchBody {
    if (progress === undefined) return this.#fixed ?? this.#make?.() ?? null
    if (this.#fixed !== undefined) {
      const bytes = typeof this.#fixed === 'string' ? Buffer.from(this.#fixed) : this.#fixed
      return countChunks(slices(bytes), progress)
    }
    return this.#make === undefined ? null : countChunks(this.#make(), progress)
  }
}

/** Builds the body of a request from its options; `undefined` when there is none. Misuse throws. */
export function prepareBody(
  options: HttpRequestOptions,
  queryOptions: QueryOptions | undefined,
): RequestBody | undefined {
  const { json, form, multipart, body } = options
  const count = Number(json !== undefined) + Number(form !== undefined) + Number(multipart !== undefined)
  if (count + Number(body !== undefined) > 1) {
    throw new InvalidArgumentError('use only one of json, form, multipart and body')
  }
  if (json !== undefined) {
    const text = JSON.stringify(json)
    if (text === undefined) throw new InvalidArgumentError('json body is not serialisable')
    return fixed(text, 'application/json')
  }
  if (form !== undefined) {
    return fixed(serializeQuery(form, queryOptions, true), 'application/x-www-form-urlencoded;charset=UTF-8')
  }
  if (multipart !== undefined) {
    const encoded = encodeMultipart(multipart)
    return new RequestBody(undefined, encoded.chunks, encoded.contentType, encoded.length, encoded.replayable)
  }
  if (body === undefined) return undefined
  if (typeof body === 'string' || body instanceof Uint8Array) return fixed(body, undefined)
  if (body instanceof Blob) {
    return new RequestBody(undefined, () => body.stream(), body.type || undefined, body.size, true)
  }
  if (isAsyncIterable(body)) {
    let used = false
    const once = (): AsyncIterable<Uint8Array> => {
      if (used) throw new InvalidArgumentError('a stream body can be sent only once')
      used = true
      return body
    }
    return new RequestBody(undefined, once, undefined, undefined, false)
  }
  throw new InvalidArgumentError('body must be a string, Uint8Array, Blob, Readable or AsyncIterable')
}

function fixed(value: string | Uint8Array, contentType: string | undefined): RequestBody {
  const length = typeof value === 'string' ? Buffer.byteLength(value) : value.byteLength
  return new RequestBody(value, undefined, contentType, length, true)
}

function isAsyncIterable(value: unknown): value is AsyncIterable<Uint8Array> {
  return typeof (value as AsyncIterable<Uint8Array>)?.[Symbol.asyncIterator] === 'function'
}
