// Request headers in every form fetch accepts (a plain object, a Headers instance, an array of name/value pairs),
// turned into the one shape the session works with: lower-case names, string values. A name given more than once is
// kept, its values joined as RFC 9110 §5.3 allows (`; ` for Cookie, whose syntax has no comma list).
import { InvalidArgumentError } from '../errors.ts'
import type { HeadersInit } from './types.ts'

/** Lower-cases names, drops undefined values, joins repeated names: one canonical header object. */
export function normalizeHeaders(headers: HeadersInit | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  if (headers === undefined || headers === null) return out
  if (typeof (headers as Headers).forEach === 'function' && !Array.isArray(headers)) {
    // A Headers instance has already joined repeated names (and validated them); Set-Cookie is not a request header.
    ;(headers as Headers).forEach((value, name) => {
      out[name] = value
    })
    return out
  }
  if (Array.isArray(headers) || typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const pair of headers as Iterable<readonly [string, string]>) {
      if (!Array.isArray(pair) || pair.length !== 2) {
        throw new InvalidArgumentError('headers as a list must hold [name, value] pairs')
      }
      add(out, pair[0], pair[1])
    }
    return out
  }
  if (typeof headers !== 'object')
    throw new InvalidArgumentError('headers must be an object, Headers or pairs')
  const record = headers as Record<string, string | string[] | number | undefined>
  for (const name of Object.keys(record)) {
    const value = record[name]
    if (value === undefined) continue
    if (Array.isArray(value)) for (const item of value) add(out, name, item)
    else add(out, name, value)
  }
  return out
}

function add(out: Record<string, string>, name: unknown, value: unknown): void {
  if (typeof name !== 'string' || name === '' || /[\r\n:]/.test(name)) {
    throw new InvalidArgumentError(`header name ${JSON.stringify(name)} is not a valid field name`)
  }
  const text = String(value)
  if (/[\r\n]/.test(text)) throw new InvalidArgumentError(`header ${name} has a line break in its value`)
  const key = name.toLowerCase()
  const held = out[key]
  out[key] = held === undefined ? text : `${held}${key === 'cookie' ? '; ' : ', '}${text}`
}
