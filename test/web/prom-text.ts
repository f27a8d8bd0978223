// A strict parser of the Prometheus text exposition format (0.0.4), for tests: every line must be a
// HELP, a TYPE, a comment or a sample of a declared family; label values unescaped; histograms checked
// for cumulative buckets ending in le="+Inf" equal to _count. Anything else throws with the line.

export type Sample = { name: string; labels: Record<string, string>; value: number }
export type Family = { name: string; type: string; help: string; samples: Sample[] }

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*'
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)(?: (-?\\d+))?$`)
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped'])
const SUFFIXES: Record<string, string[]> = {
  counter: ['_total', ''],
  gauge: [''],
  untyped: [''],
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['', '_sum', '_count'],
}

export function parsePrometheusText(text: string): Map<string, Family> {
  const families = new Map<string, Family>()
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline')
  const lines = text.slice(0, -1).split('\n')
  for (const [i, line] of lines.entries()) {
    const fail = (why: string): never => {
      throw new Error(`line ${i + 1}: ${why}: ${JSON.stringify(line)}`)
    }
    if (line === '') continue
    if (line.startsWith('#')) {
      const meta = new RegExp(`^# (HELP|TYPE) (${NAME}) (.*)$`).exec(line)
      if (!meta) continue // a plain comment
      const [, kind, name, rest] = meta as unknown as [string, string, string, string]
      const family = families.get(name) ?? { name, type: 'untyped', help: '', samples: [] }
      families.set(name, family)
      if (kind === 'HELP') family.help = rest.replace(/\\n/g, '\n').replace(/\\\\/g, '\\')
      else if (!TYPES.has(rest)) fail('unknown type')
      else if (family.samples.length > 0) fail('TYPE after samples')
      else family.type = rest
      continue
    }
    const match = SAMPLE.exec(line) ?? fail('not a sample')
    const [, name, labelText = '', valueText] = match as unknown as [
      string,
      string,
      string | undefined,
      string,
    ]
    const value = parseValue(valueText) ?? fail('bad value')
    const labels: Record<string, string> = {}
    let rest = labelText
    while (rest.length > 0) {
      const label = LABEL.exec(rest) ?? fail('bad labels')
      if (label[1]! in labels) fail('duplicate label')
      labels[label[1]!] = label[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))
      rest = rest.slice(label[0].length)
    }
    const family = familyOf(families, name) ?? fail('sample of an undeclared family')
    family.samples.push({ name, labels, value })
  }
  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family)
  return families
}

function familyOf(families: Map<string, Family>, sample: string): Family | undefined {
  for (const family of families.values())
    for (const suffix of SUFFIXES[family.type] ?? ['']) if (sample === family.name + suffix) return family
  return undefined
}

// Special values as Prometheus's own parser reads them (Go's strconv.ParseFloat: case-insensitive), which
// matters because prom-client writes NaN as "Nan".
function parseValue(text: string): number | undefined {
  const lower = text.toLowerCase()
  if (lower === '+inf' || lower === 'inf') return Number.POSITIVE_INFINITY
  if (lower === '-inf') return Number.NEGATIVE_INFINITY
  if (lower === 'nan') return Number.NaN
  const n = Number(text)
  return /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text) && Number.isFinite(n) ? n : undefined
}

/** Buckets cumulative per series, the last one le="+Inf", equal to that series' _count. */
function checkHistogram(family: Family): void {
  const series = new Map<string, { buckets: Sample[]; count?: number }>()
  for (const s of family.samples) {
    const { le, ...rest } = s.labels
    const key = JSON.stringify(Object.entries(rest).sort())
    const entry = series.get(key) ?? { buckets: [] }
    series.set(key, entry)
    if (s.name.endsWith('_bucket')) {
      if (le === undefined) throw new Error(`${family.name}: bucket without le`)
      entry.buckets.push(s)
    } else if (s.name.endsWith('_count')) entry.count = s.value
  }
  for (const [key, { buckets, count }] of series) {
    let last = 0
    for (const b of buckets) {
      if (b.value < last) throw new Error(`${family.name} ${key}: buckets not cumulative`)
      last = b.value
    }
    if (buckets.at(-1)?.labels.le !== '+Inf') throw new Error(`${family.name} ${key}: no le="+Inf" bucket`)
    if (count !== last) throw new Error(`${family.name} ${key}: +Inf bucket ${last} != _count ${count}`)
  }
}

/** The value of the one sample of `name` whose labels include `labels` (0 when absent). */
export function sampleValue(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number {
  const family = familyOf(families, name)
  const sample = family?.samples.find(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  )
  return sample?.value ?? 0
}
