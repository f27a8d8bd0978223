// Response serialisation: collected body bytes become `res.data` by `responseType`, or by Content-Type under 'auto';
// and the content-type rule that validation applies. Nothing is parsed that was not asked for.
import { ErrorCodes, HttpError } from '../errors.ts'
import type { ResponseType } from './types.ts'

const EMPTY = Buffer.alloc(0)

/** True for statuses and methods that never have a body. */
export function hasNoBody(method: string, status: number): boolean {
  return (
    method === 'HEAD' || status === 204 || status === 205 || status === 304 || (status >= 100 && status < 200)
  )
}

/** Joins the collected chunks (one chunk — the common small response — is used as it is). */
export function joinChunks(chunks: Buffer[], length: number): Buffer {
  if (chunks.length === 0) return EMPTY
  if (chunks.length === 1) return chunks[0]
  return Buffer.concat(chunks, length)
}

/**
 * Decodes `bytes` as `type` says. Empty bodies give `undefined` for 'json' and 'auto', '' for 'text' and an empty
 * Buffer for 'bytes'. Malformed JSON fails with WK_HTTP_BODY (the caller attaches the response).
 */
export function decodeBody(bytes: Buffer, type: ResponseType, contentType: string | undefined): unknown {
  if (type === 'bytes') return bytes
  if (type === 'text') return bytes.toString('utf8')
  if (bytes.length === 0) return undefined
  if (type === 'json' || (type === 'auto' && isJson(contentType))) {
    const text = bytes.toString('utf8')
    try {
      return JSON.parse(text)
    } catch (cause) {
      throw new HttpError(ErrorCodes.HTTP_BODY, `Response body is not valid JSON (${bytes.length} bytes)`, {
        cause,
      })
    }
  }
  if (type === 'auto' && isText(contentType)) return bytes.toString('utf8')
  return bytes
}

function isJson(contentType: string | undefined): boolean {
  if (contentType === undefined) return false
  const mime = essence(contentType)
  return mime === 'application/json' || mime.endsWith('+json')
}

function isText(contentType: string | undefined): boolean {
  if (contentType === undefined) return false
  const mime = essence(contentType)
  return (
    mime.startsWith('text/') ||
    mime.endsWith('+xml') ||
    mime === 'application/xml' ||
    mime === 'application/javascript' ||
    mime === 'application/x-www-form-urlencoded'
  )
}

/** `Text/HTML; charset=x` → `text/html`. */
export function essence(contentType: string): string {
  const semicolon = contentType.indexOf(';')
  return (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase()
}

/** Matches a Content-Type against patterns: exact (`application/json`), `type/*`, `*\/*`, and `+suffix` (`*\/*+json`). */
export function contentTypeAccepted(contentType: string | undefined, accepted: string[]): boolean {
  const mime = contentType === undefined ? '' : essence(contentType)
  for (const pattern of accepted) {
    const p = pattern.toLowerCase()
    if (p === '*/*' || p === mime) return true
    if (p.endsWith('/*') && mime.startsWith(p.slice(0, -1))) return true
    if (p.startsWith('*/*+') && mime.endsWith(p.slice(3))) return true
  }
  return false
}
