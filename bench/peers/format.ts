// How the benchmarks print: Markdown tables, human units, ratios against wirekit, goal verdicts,
// and the order statistics (median, quantiles) their figures are summarised with.

/** A Markdown table: header row, separator, one line per row, columns padded as Biome formats them. */
export function markdownTable(headers: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`
  return alignMarkdownTables([line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n'))
}

const TABLE_LINE = /^\|.*\|$/
const SEPARATOR_CELL = /^:?-+:?$/

// Cells of one table line, split on pipes that are not escaped.
function cellsOf(line: string): string[] {
  return line
    .slice(1, -1)
    .split(/(?<!\\)\|/)
    .map((cell) => cell.trim())
}

/**
 * Pads every Markdown table in `text` so each column has one width, the layout `biome format`
 * gives: then a generated BENCHMARKS.md passes the project's lint as written. Other lines are kept.
 */
export function alignMarkdownTables(text: string): string {
  const lines = text.split('\n')
  let fenced = false
  for (let start = 0; start < lines.length; ) {
    // Nothing inside a fenced code block is a table (the runner quotes stderr in one).
    if (lines[start]!.trim().startsWith('```')) fenced = !fenced
    let end = start
    while (!fenced && end < lines.length && TABLE_LINE.test(lines[end]!.trim())) end++
    if (end - start >= 2) lines.splice(start, end - start, ...alignTable(lines.slice(start, end)))
    start = Math.max(end, start + 1)
  }
  return lines.join('\n')
}

function alignTable(lines: string[]): string[] {
  const rows = lines.map((l) => cellsOf(l.trim()))
  // The second line is the header separator (`---`, `:--`, `--:`): it takes any width.
  const isSeparator = (r: number): boolean => r === 1 && rows[1]!.every((cell) => SEPARATOR_CELL.test(cell))
  const columns = Math.max(...rows.map((r) => r.length))
  const width = (cell: string): number => [...cell].length
  const widths = Array.from({ length: columns }, (_, c) =>
    Math.max(3, ...rows.map((r, i) => (isSeparator(i) ? 3 : width(r[c] ?? '')))),
  )
  const hasSeparator = isSeparator(1)
  const align = (c: number): string => {
    const sep = hasSeparator ? (rows[1]![c] ?? '') : ''
    if (sep.length > 1 && sep.startsWith(':') && sep.endsWith(':')) return 'center'
    return sep.length > 1 && sep.endsWith(':') ? 'right' : 'left'
  }
  const pad = (cell: string, w: number, c: number): string => {
    const room = w - width(cell)
    if (align(c) === 'right') return ' '.repeat(room) + cell
    if (align(c) === 'center')
      return ' '.repeat(Math.floor(room / 2)) + cell + ' '.repeat(Math.ceil(room / 2))
    return cell + ' '.repeat(room)
  }
  return rows.map((r, i) => {
    const cells = widths.map((w, c) => {
      const cell = r[c] ?? ''
      if (!isSeparator(i)) return pad(cell, w, c)
      const left = cell.startsWith(':') ? ':' : ''
      const right = cell.length > 1 && cell.endsWith(':') ? ':' : ''
      return left + '-'.repeat(w - left.length - right.length) + right
    })
    return `| ${cells.join(' | ')} |`
  })
}

/** 1234567 → "1.23M", 145000 → "145k". */
export function formatRate(perSecond: number): string {
  if (!Number.isFinite(perSecond)) return 'n/a'
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(2)}M`
  if (perSecond >= 1e4) return `${Math.round(perSecond / 1e3)}k`
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(1)}k`
  return perSecond.toFixed(0)
}

/** Bytes as B / KB / MB (1 KB = 1024 B). */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return 'n/a'
  const abs = Math.abs(bytes)
  if (abs >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MB`
  if (abs >= 1024) return `${(bytes / 1024).toFixed(2)} KB`
  return `${Math.round(bytes)} B`
}

/** Milliseconds with sensible precision (seconds from 1 s up). */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a'
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`
  if (ms >= 100) return `${Math.round(ms)} ms`
  if (ms >= 1) return `${ms.toFixed(1)} ms`
  return `${ms.toFixed(3)} ms`
}

/** 0.934 → "93%". */
export function formatPercent(share: number): string {
  return Number.isFinite(share) ? `${Math.round(share * 100)}%` : 'n/a'
}

/** `a / b` as "3.21×", or "n/a" when either side is missing. */
export function formatRatio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0)
    return 'n/a'
  return `${(a / b).toFixed(2)}×`
}

/** A goal cell: "≥ 7×: met" when `ratio` reaches `min`, "≥ 7×: not met" below it, just the goal without a figure. */
export function goalAtLeast(ratio: number | undefined, min: number): string {
  const goal = `≥ ${min}×`
  if (ratio === undefined || !Number.isFinite(ratio)) return goal
  return `${goal}: ${ratio >= min ? 'met' : 'not met'}`
}

/** The value at quantile `q` (0..1) of an ascending-sorted array. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[index]!
}

/** The median of some numbers (they need not be sorted). */
export function median(values: number[]): number {
  return quantile(
    [...values].sort((a, b) => a - b),
    0.5,
  )
}

/** Prints a benchmark's Markdown section, with the cases that failed and why the run stopped early, if it did. */
export function printSection(lines: string[], failures: string[], incomplete: string | undefined): void {
  if (failures.length > 0) lines.push('', ...failures.map((f) => `- failed: ${f}`))
  if (incomplete) lines.push('', `Incomplete: ${incomplete}.`)
  process.stdout.write(`${lines.join('\n')}\n`)
}

/** Each peer's best run by `score`: on a shared machine the fastest run is the one least disturbed by others. */
export function bestRuns<T>(runs: Map<string, T[]>, score: (run: T) => number): Map<string, T> {
  return new Map(
    [...runs].map(([name, list]) => [name, list.reduce((a, b) => (score(b) > score(a) ? b : a))]),
  )
}
