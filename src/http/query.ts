// Query strings and urlencoded forms from plain objects, by one documented rule:
//   { a: 1, b: 'x y' }            → a=1&b=x%20y          (form bodies write the space as '+')
//   { tag: ['a', 'b'] }           → tag=a&tag=b          arrayFormat 'repeat' (default)
//                                 → tag[]=a&tag[]=b      'brackets'    → tag=a,b   'comma'
//   { user: { name: 'n', address: { city: 'c' } } } → user[name]=n&user[address][city]=c   (brackets are percent-encoded)
//   undefined and null are skipped; Date → ISO 8601; booleans, numbers, bigints → String(); nesting deeper than 16 throws.
import { InvalidArgumentError } from '../errors.ts'

export type QueryValue =
  | string
  | number
  | boolean
  | bigint
  | Date
  | null
  | undefined
  | QueryValue[]
  | QueryObject
export type QueryObject = { [key: string]: QueryValue }
/** Query input: an object by the rule above, a URLSearchParams, or key/value pairs. */
export type QueryInput = QueryObject | URLSearchParams | Array<[string, string]>

export type QueryOptions = {
  /** How arrays are written. @default 'repeat' */
  arrayFormat?: 'repeat' | 'brackets' | 'comma'
}

const MAX_DEPTH = 16

/** Serialises `input` to `k=v&k=v` (no leading '?'). `form` writes spaces as '+', as HTML forms do. */
export function serializeQuery(input: QueryInput, options: QueryOptions = {}, form = false): string {
  const out: string[] = []
  const encode = form ? encodeForm : encodeURIComponent
  if (input instanceof URLSearchParams || Array.isArray(input)) {
    for (const [key, value] of input) out.push(`${encode(key)}=${encode(value)}`)
  } else {
    const format = options.arrayFormat ?? 'repeat'
    for (const key of Object.keys(input)) addValue(out, encode, format, key, input[key], 0)
  }
  return out.join('&')
}

function addValue(
  out: string[],
  encode: (s: string) => string,
  format: 'repeat' | 'brackets' | 'comma',
  key: string,
  value: QueryValue,
  depth: number,
): void {
  if (value === undefined || value === null) return
  if (depth > MAX_DEPTH)
    throw new InvalidArgumentError(`query nests deeper than ${MAX_DEPTH} levels at "${key}"`)
  if (Array.isArray(value)) {
    if (format === 'comma') {
      const scalars = value.filter((v) => v !== undefined && v !== null).map((v) => scalar(key, v))
      if (scalars.length > 0) out.push(`${encode(key)}=${scalars.map(encode).join(',')}`)
      return
    }
    const itemKey = format === 'brackets' ? `${key}[]` : key
    for (const item of value) addValue(out, encode, format, itemKey, item, depth + 1)
    return
  }
  if (typeof value === 'object' && !(value instanceof Date)) {
    for (const sub of Object.keys(value))
      addValue(out, encode, format, `${key}[${sub}]`, value[sub], depth + 1)
    return
  }
  out.push(`${encode(key)}=${encode(scalar(key, value))}`)
}

function scalar(key: string, value: QueryValue): string {
  if (value instanceof Date) return value.toISOString()
  if (typeof value === 'object')
    throw new InvalidArgumentError(`query value at "${key}" must be a scalar inside a comma list`)
  return String(value)
}

function encodeForm(s: string): string {
  return encodeURIComponent(s).replace(/%20/g, '+')
}
