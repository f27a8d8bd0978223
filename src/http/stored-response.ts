// A response served straight from the cache store (the fast path of a hit): the stored status, headers and body as
// an HttpResponse, decoded by the response type like any other, with the Age a cache adds. No dispatch, no timer.
import { Readable } from 'node:stream'
import { decodeResponse, type Prepared } from './attempt.ts'
import { withoutCredentialVary } from './cache/credentials.ts'
import type { StoredHit } from './cache/lookup.ts'
import { HttpResponse } from './response.ts'
import { hasNoBody, joinChunks } from './response-body.ts'

export function storedResponse(prepared: Prepared, hit: StoredHit, start: number): HttpResponse {
  const { value } = hit
  const flat: Record<string, string> = {}
  let setCookie: string[] = []
  const headers = withoutCredentialVary(value.headers)
  for (const name of Object.keys(headers)) {
    const field = headers[name]
    if (field === undefined) continue
    flat[name] = typeof field === 'string' ? field : field.join(', ')
    if (name === 'set-cookie') setCookie = typeof field === 'string' ? [field] : field
  }
  flat.age = String(hit.age)
  if (!hit.fresh) flat.warning = '110 - "response is stale"'
  const elapsed = performance.now() - start
  const response = new HttpResponse<unknown>(
    prepared.url.href,
    prepared.method,
    value.statusCode,
    value.statusMessage ?? '',
    flat,
    setCookie,
    undefined,
    {
      start: performance.timeOrigin + start,
      dns: 0,
      connect: 0,
      tls: 0,
      firstByte: elapsed,
      total: elapsed,
      reused: true,
    },
    0,
  )
  response.fromCache = true
  const body = value.body
  const bytes =
    body === undefined || body === null
      ? Buffer.alloc(0)
      : Array.isArray(body)
        ? joinChunks(body, lengthOf(body))
        : body
  const progress = prepared.options.onDownloadProgress
  if (progress !== undefined) progress({ done: bytes.length, total: bytes.length })
  if (prepared.responseType === 'stream' && !hasNoBody(prepared.method, value.statusCode)) {
    response.data = Readable.from([bytes])
    return response
  }
  response.data = bytes
  return decodeResponse(prepared, response)
}

function lengthOf(chunks: Buffer[]): number {
  let length = 0
  for (const chunk of chunks) length += chunk.length
  return length
}
