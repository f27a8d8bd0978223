// `wirekit get <url>`: an HTTP GET through HttpSession the way curl and wget users expect it. The body streams to
// stdout (never held in memory) or, with `-o file`, downloads with a progress bar (rate, ETA) and a summary line;
// an interrupt keeps `<file>.download`, which `--resume` continues (wget -c / curl -C -).
import { readFileSync } from 'node:fs'
import { rm, stat } from 'node:fs/promises'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { ErrorCodes, isWirekitError } from '../errors.ts'
import type { HttpProgress, HttpSessionOptions, HttpTimings } from '../http/index.ts'
import { HttpSession } from '../http/index.ts'

export type GetOptions = {
  output?: string
  resume?: boolean
  cache?: string
  cachePath?: string
  ca?: string
  insecure?: boolean
  header?: string[]
  timeout?: string
  retries?: string
  maxRedirects?: string
  /** true: draw the bar even when stderr is not a terminal; false: never. @default stderr is a terminal */
  progress?: boolean
}

/** A mistake in the command line: printed without a stack, exit status 2. */
export class UsageError extends Error {}

/** Exit statuses: 1 for a failed transfer (main.ts), 2 for a bad command line, 130 for an interrupt (128 + SIGINT). */
const EXIT_USAGE = 2
const EXIT_INTERRUPTED = 130

export async function get(input: string, options: GetOptions): Promise<void> {
  let session: HttpSession
  let url: string
  try {
    url = targetURL(input)
    session = new HttpSession(sessionOptions(options))
  } catch (error) {
    if (!(error instanceof UsageError) && !isArgumentError(error)) throw error
    process.stderr.write(`wirekit get: ${(error as Error).message}\n`)
    process.exitCode = EXIT_USAGE
    return
  }
  const headers = parseHeaders(options.header)
  const bar = new ProgressBar(options.progress ?? process.stderr.isTTY === true)
  const controller = new AbortController()
  const onSigint = () => {
    // A second Ctrl-C does not wait for the cleanup.
    if (controller.signal.aborted) process.exit(EXIT_INTERRUPTED)
    controller.abort()
  }
  process.on('SIGINT', onSigint)
  try {
    if (options.output !== undefined) await toFile(session, url, options, headers, bar, controller.signal)
    else await toStdout(session, url, headers, bar, controller.signal)
  } catch (error) {
    bar.clear()
    if (controller.signal.aborted) {
      const kept = options.output === undefined ? '' : await partialNote(options.output)
      process.stderr.write(`wirekit get: interrupted${kept}\n`)
      process.exitCode = EXIT_INTERRUPTED
      return
    }
    if (isWirekitError(error) && error.code === ErrorCodes.HTTP_TLS_UNTRUSTED) {
      error.message +=
        ' (if you trust this server, pass its CA with --ca <file>, or skip the check with --insecure)'
    }
    // A transfer cut mid-way leaves its partial file for --resume, as an interrupt does: say so.
    if (options.output !== undefined && error instanceof Error)
      error.message += await partialNote(options.output)
    throw error
  } finally {
    process.off('SIGINT', onSigint)
    await session.close()
  }
}

async function toFile(
  session: HttpSession,
  url: string,
  options: GetOptions,
  headers: Record<string, string>,
  bar: ProgressBar,
  signal: AbortSignal,
): Promise<void> {
  const to = options.output as string
  const partial = `${to}.download`
  const held = await sizeOf(partial)
  if (options.resume !== true && held > 0) {
    await rm(partial, { force: true })
    await rm(`${partial}.json`, { force: true })
    process.stderr.write(
      `starting over: ${partial} (${formatBytes(held)}) is from an earlier try; --resume continues it\n`,
    )
  }
  // The library keeps the partial file of an interrupted download only in resume mode, so always ask for it: the
  // flag decides whether an existing partial file is continued (above), not whether a new one survives.
  const result = await session.download(url, {
    to,
    resume: true,
    signal,
    headers,
    onStart({ resumedFrom, total, discarded }) {
      if (resumedFrom > 0) process.stderr.write(`resuming at ${formatBytes(resumedFrom)}\n`)
      if (discarded > 0) {
        process.stderr.write(
          `the server sent the whole file instead of the rest (it ignores Range, or the file changed): restarting from zero, ${formatBytes(discarded)} dropped\n`,
        )
      }
      bar.start(resumedFrom, total)
    },
    onProgress: (p) => bar.update(p),
  })
  bar.clear()
  const moved = result.bytes - result.resumedFrom
  const resumed = result.resumedFrom > 0 ? `, resumed at ${formatBytes(result.resumedFrom)}` : ''
  process.stderr.write(
    `saved ${result.path}: ${formatBytes(result.bytes)}${resumed}; ${bar.summary(moved)}\n`,
  )
  process.stderr.write(`${result.response.status} ${formatTimings(result.response.timings)}\n`)
}

async function toStdout(
  session: HttpSession,
  url: string,
  headers: Record<string, string>,
  bar: ProgressBar,
  signal: AbortSignal,
): Promise<void> {
  // A progress bar would mix with the body on a terminal; curl shows its meter only when stdout is redirected.
  if (process.stdout.isTTY === true) bar.disable()
  let received = 0
  const res = await session.get<Readable | undefined>(url, {
    responseType: 'stream',
    signal,
    headers,
    onDownloadProgress: (p) => {
      received = p.done
      bar.update(p)
    },
  })
  bar.start(0, numberOrUndefined(res.headers['content-length']))
  if (res.data !== undefined) await pipeline(res.data, process.stdout, { end: false })
  bar.clear()
  const cached = res.fromCache ? ' (from cache)' : ''
  process.stderr.write(
    `\n${res.status} ${res.statusText}${cached} ${formatTimings(res.timings)}; ${bar.summary(received)}\n`,
  )
}

// --- command line -------------------------------------------------------------------------------------------------

function sessionOptions(options: GetOptions): HttpSessionOptions {
  const session: HttpSessionOptions = {
    security: {
      allowInvalidCertificates: options.insecure === true,
      validatesDomainName: options.insecure !== true,
      allowInsecureHTTP: true,
    },
  }
  if (options.cache !== undefined) {
    if (options.cache !== 'memory' && options.cache !== 'sqlite') {
      throw new UsageError(`--cache must be memory or sqlite, got "${options.cache}"`)
    }
    // --cache-path has a default for SQLite; the memory store takes no path.
    session.cache =
      options.cache === 'sqlite' ? { store: 'sqlite', path: options.cachePath } : { store: 'memory' }
  }
  if (options.ca !== undefined) {
    try {
      session.ca = readFileSync(options.ca)
    } catch (error) {
      throw new UsageError(`--ca ${options.ca}: ${(error as Error).message}`)
    }
  }
  if (options.timeout !== undefined) session.timeout = count('--timeout', options.timeout, 1)
  if (options.retries !== undefined) session.retry = { limit: count('--retries', options.retries, 0) }
  if (options.maxRedirects !== undefined)
    session.maxRedirects = count('--max-redirects', options.maxRedirects, 0)
  return session
}

/** A whole number ≥ `min` (and below 2^31, the largest timer delay), or a UsageError naming the option. */
export function count(name: string, value: string, min: number): number {
  const n = /^\d+$/.test(value.trim()) ? Number(value) : Number.NaN
  if (!Number.isSafeInteger(n) || n < min || n > 2 ** 31 - 1) {
    throw new UsageError(`${name} must be a whole number from ${min} to ${2 ** 31 - 1}, got "${value}"`)
  }
  return n
}

function parseHeaders(lines: string[] | undefined): Record<string, string> {
  const headers: Record<string, string> = {}
  for (const line of lines ?? []) {
    const colon = line.indexOf(':')
    if (colon <= 0) throw new UsageError(`-H expects "Name: value", got "${line}"`)
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  return headers
}

const SCHEME = /^[a-z][a-z\d+.-]*:\/\//i

/**
 * The URL to fetch. Without a scheme, like curl: `http://` for a loopback host (it never leaves the machine),
 * `https://` otherwise. A port outside 1-65535 is named as such rather than as an unparsable URL.
 */
export function targetURL(input: string): string {
  const text = input.trim()
  if (text === '') throw new UsageError('no URL given')
  const hasScheme = SCHEME.test(text)
  const rest = hasScheme ? text.slice(text.indexOf('://') + 3) : text
  const authority = rest.split(/[/?#]/, 1)[0].replace(/^.*@/, '')
  const port = /^(?:\[[^\]]*\]|[^:]*)(?::(.*))?$/.exec(authority)?.[1]
  if (
    port !== undefined &&
    port !== '' &&
    !(/^\d{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65535)
  ) {
    throw new UsageError(`invalid port ${port} in ${input} (ports are 1-65535)`)
  }
  const host = authority.replace(/:\d*$/, '').toLowerCase()
  const url = hasScheme ? text : `${isLoopback(host) ? 'http' : 'https'}://${text}`
  try {
    return new URL(url).href
  } catch {
    throw new UsageError(`not a URL: ${input}`)
  }
}

function isLoopback(host: string): boolean {
  return (
    host === 'localhost' ||
    host.endsWith('.localhost') ||
    host === '[::1]' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
  )
}

function isArgumentError(error: unknown): boolean {
  return isWirekitError(error) && error.code === ErrorCodes.INVALID_ARGUMENT
}

// --- output -------------------------------------------------------------------------------------------------------

async function partialNote(output: string): Promise<string> {
  const size = await sizeOf(`${output}.download`)
  if (size === 0) return ''
  return `; kept ${output}.download (${formatBytes(size)}), continue with --resume`
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size
  } catch {
    return 0
  }
}

function numberOrUndefined(value: string | undefined): number | undefined {
  const n = Number(value)
  return value !== undefined && Number.isFinite(n) ? n : undefined
}

function formatTimings(t: HttpTimings): string {
  const ms = (n: number) => `${n.toFixed(1)}ms`
  return `dns ${ms(t.dns)} connect ${ms(t.connect)} tls ${ms(t.tls)} first byte ${ms(t.firstByte)} total ${ms(t.total)}`
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`
  return `${(n / 1024 ** 3).toFixed(2)} GiB`
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--'
  if (seconds < 10) return `${seconds.toFixed(1)}s`
  const s = Math.round(seconds)
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
}

/**
 * One line on stderr, redrawn in place: `[####......]  42%  12.6 MiB / 30.0 MiB  8.1 MiB/s  ETA 2.1s`. The rate is
 * measured over the last few seconds, so a stall shows as a falling rate rather than a frozen average.
 */
export class ProgressBar {
  #enabled: boolean
  #drawn = false
  #total: number | undefined
  #started = performance.now()
  #samples: Array<[time: number, done: number]> = []

  constructor(enabled: boolean) {
    this.#enabled = enabled
  }

  disable(): void {
    this.#enabled = false
  }

  /** The transfer starts with `base` bytes already on disk, `total` in all when known. */
  start(base: number, total: number | undefined): void {
    this.#total = total
    this.#started = performance.now()
    this.#samples = [[this.#started, base]]
  }

  update({ done, total }: HttpProgress): void {
    const now = performance.now()
    const whole = total ?? this.#total
    this.#samples.push([now, done])
    while (this.#samples.length > 2 && now - this.#samples[0][0] > 3000) this.#samples.shift()
    if (!this.#enabled) return
    process.stderr.write(`\r${this.line(done, whole, now)}\x1b[K`)
    this.#drawn = true
  }

  /** The bar's text for `done` of `total` bytes at `now`. */
  line(done: number, total: number | undefined, now = performance.now()): string {
    const rate = this.rate(now)
    const speed = `${formatBytes(Math.round(rate))}/s`
    if (total === undefined || total <= 0) return `${formatBytes(done)}  ${speed}`
    const fraction = Math.min(done / total, 1)
    const width = 24
    const filled = Math.round(fraction * width)
    const eta = rate > 0 ? formatDuration((total - done) / rate) : '--'
    const percent = `${Math.floor(fraction * 100)}%`.padStart(4)
    return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${percent}  ${formatBytes(done)} / ${formatBytes(total)}  ${speed}  ETA ${eta}`
  }

  /** Bytes per second over the recent samples. */
  rate(now = performance.now()): number {
    const first = this.#samples[0]
    const last = this.#samples[this.#samples.length - 1]
    if (first === undefined || last === undefined) return 0
    const seconds = (Math.max(now, last[0]) - first[0]) / 1000
    return seconds > 0 ? (last[1] - first[1]) / seconds : 0
  }

  /** Ends the bar's line, so whatever is printed next starts on a line of its own. */
  clear(): void {
    if (this.#drawn) process.stderr.write('\n')
    this.#drawn = false
  }

  /** `12.0 MiB in 1.5s (8.0 MiB/s)` for the `moved` bytes of this transfer. */
  summary(moved: number): string {
    const seconds = (performance.now() - this.#started) / 1000
    const rate = seconds > 0 ? moved / seconds : 0
    return `${formatBytes(moved)} in ${formatDuration(seconds)} (${formatBytes(Math.round(rate))}/s)`
  }
}
