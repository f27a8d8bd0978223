// The dashboard page's script (bundled with the wirekit client, served as /dashboard.js): live over a
// wirekit MessageClient at /admin/ws, which pushes the server's figures every second; each figure is a
// hand-made SVG line chart of the last two minutes. Text goes in with textContent only.

import { MessageClient } from '../../messaging/client-entry.ts'
import { byId, type El as Element, page, socketUrl } from '../dom.ts'
import type { ServerStats } from '../metrics.ts'
import type { ClusterFigures, NodeFigures } from '../node-figures.ts'

const { document, location } = page

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
  { label: 'TCP connections', unit: '', value: (s) => s.connections - (s.websockets ?? 0) },
  { label: 'WebSocket connections', unit: '', value: (s) => s.websockets ?? 0 },
  { label: 'Sessions connected', unit: '', value: (s) => s.sessions.connected },
  { label: 'Sessions retained (client away)', unit: '', value: (s) => s.sessions.retained },
  { label: 'Messages in', unit: '/s', value: rate((s) => s.messages.received) },
  { label: 'Messages out', unit: '/s', value: rate((s) => s.messages.sent) },
  { label: 'Messages in, total', unit: '', value: (s) => s.messages.received },
  { label: 'Messages out, total', unit: '', value: (s) => s.messages.sent },
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

const MiB = 2 ** 20
/** The nodes table's columns after the node's name: its key (data-figure) and its value for a node and for the totals. */
const COLUMNS: [string, (n: NodeFigures) => number, (t: ClusterFigures['totals']) => number | string][] = [
  ['tcp', (n) => n.stats.connections - n.stats.websockets, (t) => t.connections - t.websockets],
  ['websocket', (n) => n.stats.websockets, (t) => t.websockets],
  ['sessions', (n) => n.stats.sessions.connected, (t) => t.sessions.connected],
  ['retained', (n) => n.stats.sessions.retained, (t) => t.sessions.retained],
  // A room with members on two nodes counts on each: the total is at least the largest node's.
  ['rooms', (n) => n.stats.rooms, (t) => `≥ ${t.rooms}`],
  ['members', (n) => n.stats.roomMembers, (t) => t.roomMembers],
  ['in', (n) => n.perSecond.received, (t) => t.perSecond.received],
  ['out', (n) => n.perSecond.sent, (t) => t.perSecond.sent],
  ['resends', (n) => n.perSecond.resends, (t) => t.perSecond.resends],
  ['lost', (n) => n.stats.sessionsEnded.lost ?? 0, (t) => t.sessionsLost],
  ['slow', (n) => n.stats.slowConsumersCut, (t) => t.slowConsumersCut],
  ['rate-limited', (n) => n.stats.rateLimited, (t) => t.rateLimited],
  ['lag', (n) => n.stats.eventLoopLagMs, (t) => `max ${format(t.eventLoopLagMs, '')}`],
  ['heap', (n) => n.stats.memory.heapUsed / MiB, (t) => t.memory.heapUsed / MiB],
  ['rss', (n) => n.stats.memory.rss / MiB, (t) => t.memory.rss / MiB],
]

function cell(figure: string, value: number | string, header = false): Element {
  const td = element(header ? 'th' : 'td', typeof value === 'number' ? format(value, '') : value)
  if (header) td.setAttribute('scope', 'row')
  td.dataset.figure = figure
  return td
}

/** Redraws the nodes table: one row per node (this one first), then the live nodes' totals. */
function showNodes(figures: ClusterFigures | undefined): void {
  if (figures === undefined || !Array.isArray(figures.nodes)) return
  const rows = figures.nodes.map((n) => {
    const row = element('tr', undefined, n.gone ? 'gone' : n.self ? 'self' : '')
    row.dataset.node = n.node
    const name = `${n.label}${n.self ? ' (this node)' : ''}${n.gone ? ' (gone)' : ''}`
    row.append(cell('node', name, true), ...COLUMNS.map(([figure, value]) => cell(figure, value(n))))
    return row
  })
  const total = element('tr', undefined, 'total')
  total.dataset.node = 'total'
  const count = figures.totals.nodes
  total.append(
    cell('node', `total, ${count} live node${count === 1 ? '' : 's'}`, true),
    ...COLUMNS.map(([figure, , sum]) => cell(figure, sum(figures.totals))),
  )
  byId('node-rows').replaceChildren(...rows, total)
}

function start(): void {
  const main = byId('charts')
  const status = byId('status')
  const charts = SERIES.map((series, i) => makeChart(main, series, i))
  let before: ServerStats | undefined
  const add = (now: ServerStats) => {
    if (before !== undefined && now.at <= before.at) return
    const seconds = before === undefined ? 0 : (now.at - before.at) / 1000
    SERIES.forEach((series, i) => {
      const chart = charts[i]!
      chart.points.push(series.value(now, before, seconds))
      if (chart.points.length > WINDOW) chart.points.shift()
    })
    before = now
  }
  const redraw = () => {
    SERIES.forEach((series, i) => {
      draw(charts[i]!, series)
    })
    if (before !== undefined) status.textContent = `live · ${new Date(before.at).toLocaleTimeString()}`
  }
  const down = (text: string) => {
    status.textContent = text
    status.className = 'down'
  }
  // The token rides in the fragment (#token=…), which the browser never sends; it goes in the credentials.
  const token = new URLSearchParams(location.hash.slice(1)).get('token') ?? undefined
  MessageClient.connect(socketUrl('/admin/ws'), {
    credentials: { token },
    reconnect: { initialDelay: 200, maxDelay: 3000, retryFirstConnect: true },
  }).then(
    (client) => {
      const catchUp = async () => {
        // After a gap (first load, or a reconnect) the feed's last two minutes fill the charts.
        for (const stats of await client.request<ServerStats[]>('recent')) add(stats)
        redraw()
        showNodes(await client.request<ClusterFigures | undefined>('nodes'))
      }
      client.on('nodes', showNodes)
      client.on('stats', (stats: ServerStats) => {
        add(stats)
        redraw()
        status.className = 'live'
      })
      client.on('state', (state: string) => {
        if (state === 'connected') void catchUp()
        else if (state === 'reconnecting') down('connection to the server lost; reconnecting…')
      })
      client.on('close', (error?: Error) => down(`disconnected: ${error?.message ?? 'closed'}`))
      status.className = 'live'
      void catchUp()
    },
    (error: Error) => down(`cannot connect: ${error.message}`),
  )
}

start()
