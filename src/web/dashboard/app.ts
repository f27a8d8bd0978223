// The dashboard page's script (bundled by esbuild, served as /dashboard.js): polls /stats.json every
// second and draws each figure as a hand-made SVG line chart. Text goes in with textContent only.
// DESIGN wants it live over the wirekit browser client; this polling is the stand-in until that lands.

import type { ServerStats } from '../metrics.ts'

// The few DOM shapes used here, declared locally: the project typechecks against Node's types, and the
// DOM library would change the meaning of globals (fetch bodies, timers) for every other file.
type Element = {
  append(...children: Element[]): void
  setAttribute(name: string, value: string): void
  textContent: string | null
  className: string
  id: string
  dataset: Record<string, string>
}
type Document = {
  createElement(tag: string): Element
  createElementNS(namespace: string, tag: string): Element
  getElementById(id: string): Element | null
}
const { document, location } = globalThis as unknown as { document: Document; location: { hash: string } }

const WINDOW = 120 // points kept: two minutes at one per second
const SVG = 'http://www.w3.org/2000/svg'

type Series = {
  label: string
  unit: string
  /** The value for this sample; rates use the previous sample. */
  value(now: ServerStats, before: ServerStats | undefined, seconds: number): number
}

const rate =
  (pick: (s: ServerStats) => number) =>
  (now: ServerStats, before: ServerStats | undefined, seconds: number) =>
    before === undefined || seconds <= 0 ? 0 : Math.max(0, (pick(now) - pick(before)) / seconds)
const ended = (s: ServerStats, reason: string) => s.sessionsEnded[reason] ?? 0

const SERIES: Series[] = [
  { label: 'Connections', unit: '', value: (s) => s.connections },
  { label: 'Sessions connected', unit: '', value: (s) => s.sessions.connected },
  { label: 'Sessions retained (client away)', unit: '', value: (s) => s.sessions.retained },
  { label: 'Messages in', unit: '/s', value: rate((s) => s.messages.received) },
  { label: 'Messages out', unit: '/s', value: rate((s) => s.messages.sent) },
  { label: 'Resends', unit: '/s', value: rate((s) => s.resends) },
  { label: 'Rooms', unit: '', value: (s) => s.rooms },
  { label: 'Room members', unit: '', value: (s) => s.roomMembers },
  { label: 'Sessions lost (expired)', unit: ' total', value: (s) => ended(s, 'lost') },
  { label: 'Slow consumers cut', unit: ' total', value: (s) => s.slowConsumersCut },
  { label: 'Rate-limited', unit: ' total', value: (s) => s.rateLimited },
  { label: 'Outbox (unacknowledged)', unit: ' msgs', value: (s) => s.outbox.messages },
  { label: 'Event-loop lag', unit: ' ms', value: (s) => s.eventLoopLagMs },
  { label: 'RSS', unit: ' MiB', value: (s) => s.memory.rss / 2 ** 20 },
  { label: 'Heap used', unit: ' MiB', value: (s) => s.memory.heapUsed / 2 ** 20 },
]

type Chart = { points: number[]; current: Element; line: Element; top: Element }

function element(tag: string, text?: string, className?: string): Element {
  const node = document.createElement(tag)
  if (text !== undefined) node.textContent = text
  if (className !== undefined) node.className = className
  return node
}

function svg(tag: string, attributes: Record<string, string>): Element {
  const node = document.createElementNS(SVG, tag)
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value)
  return node
}

function makeChart(parent: Element, series: Series, index: number): Chart {
  const figure = element('figure')
  const id = `chart-${index}`
  const caption = element('figcaption')
  const title = element('span', series.label, 'label')
  title.id = id
  const current = element('span', '–', 'value')
  current.dataset.series = series.label
  caption.append(title, current)
  const chart = svg('svg', {
    viewBox: '0 0 240 60',
    preserveAspectRatio: 'none',
    role: 'img',
    'aria-labelledby': id,
  })
  const line = svg('polyline', {
    points: '',
    fill: 'none',
    'stroke-width': '1.5',
    'vector-effect': 'non-scaling-stroke',
  })
  const top = svg('text', { x: '2', y: '9', 'font-size': '8' })
  chart.append(svg('line', { x1: '0', y1: '59.5', x2: '240', y2: '59.5', class: 'axis' }), line, top)
  figure.append(caption, chart)
  parent.append(figure)
  return { points: [], current, line, top }
}

function format(value: number, unit: string): string {
  const digits = value !== 0 && Math.abs(value) < 10 && !Number.isInteger(value) ? 1 : 0
  return `${value.toLocaleString('en-US', { maximumFractionDigits: digits })}${unit}`
}

function draw(chart: Chart, series: Series): void {
  const max = Math.max(1, ...chart.points)
  const step = 240 / (WINDOW - 1)
  const offset = WINDOW - chart.points.length
  chart.line.setAttribute(
    'points',
    chart.points
      .map((v, i) => `${((offset + i) * step).toFixed(1)},${(59 - (v / max) * 50).toFixed(1)}`)
      .join(' '),
  )
  chart.top.textContent = format(max, series.unit)
  chart.current.textContent = format(chart.points.at(-1) ?? 0, series.unit)
}

function start(): void {
  const main = document.getElementById('charts')!
  const status = document.getElementById('status')!
  // The token rides in the fragment (#token=…), which the browser never sends; it goes out as a header.
  const token = new URLSearchParams(location.hash.slice(1)).get('token')
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {}
  const charts = SERIES.map((series, i) => makeChart(main, series, i))
  let before: ServerStats | undefined
  const poll = async () => {
    try {
      const res = await fetch('/stats.json', { headers, cache: 'no-store' })
      if (!res.ok) throw new Error(`HTTP ${res.status}`)
      const now = (await res.json()) as ServerStats
      const seconds = before === undefined ? 0 : (now.at - before.at) / 1000
      SERIES.forEach((series, i) => {
        const chart = charts[i]!
        chart.points.push(series.value(now, before, seconds))
        if (chart.points.length > WINDOW) chart.points.shift()
        draw(chart, series)
      })
      before = now
      status.textContent = `live · updated ${new Date(now.at).toLocaleTimeString()}`
      status.className = 'live'
    } catch (error) {
      status.textContent = `cannot reach the server (${(error as Error).message}); retrying every second`
      status.className = 'down'
    }
    setTimeout(poll, 1000)
  }
  void poll()
}

start()
