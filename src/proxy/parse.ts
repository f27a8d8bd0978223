// Parsers for the proxy's command-line values: durations ('50', '500ms', '2s'), byte sizes and rates
// ('64k', '1.5m'), endpoints ('127.0.0.1:9100', '[::1]:9000'). Bad text throws InvalidArgumentError.
import { InvalidArgumentError } from '../errors.ts'
import type { Faults } from './faults.ts'

const DURATION_UNITS: Record<string, number> = { '': 1, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
}

/**
 * Milliseconds from a duration; a bare number is milliseconds.
 * @example parseDuration('2s') // 2000
 */
export function parseDuration(text: string | number): number {
  return parseScaled(text, DURATION_UNITS, 'duration', 'like 50, 500ms, 2s, 1m')
}

/**
 * Bytes from a size; units are binary (k = 1024) and a trailing '/s' is allowed for rates.
 * @example parseBytes('64k') // 65536
 */
export function parseBytes(text: string | number): number {
  const value = typeof text === 'string' ? text.replace(/\/s$/i, '') : text
  return Math.round(parseScaled(value, SIZE_UNITS, 'size', 'like 512, 64k, 1.5m'))
}

function parseScaled(
  text: string | number,
  units: Record<string, number>,
  what: string,
  hint: string,
): number {
  if (typeof text === 'number') {
    if (Number.isFinite(text) && text >= 0) return text
  } else {
    const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text)
    const scale = match ? units[match[2]!.toLowerCase()] : undefined
    if (match && scale !== undefined) return Number(match[1]) * scale
  }
  throw new InvalidArgumentError(
    `Invalid ${what} ${JSON.stringify(text)}: expected a non-negative value ${hint}`,
  )
}

/**
 * An endpoint from 'host:port', '[ipv6]:port', ':port' or 'port'.
 * @example parseHostPort('127.0.0.1:9100') // { host: '127.0.0.1', port: 9100 }
 */
export function parseHostPort(text: string, defaultHost = '127.0.0.1'): { host: string; port: number } {
  const trimmed = text.trim()
  const match =
    /^\[([^\]]+)\]:(\d{1,5})$/.exec(trimmed) ??
    /^([^:[\]]*):(\d{1,5})$/.exec(trimmed) ??
    /^()(\d{1,5})$/.exec(trimmed)
  const port = match ? Number(match[2]) : Number.NaN
  if (!match || port > 65_535) {
    throw new InvalidArgumentError(
      `Invalid endpoint ${JSON.stringify(text)}: expected host:port, [ipv6]:port or port`,
    )
  }
  return { host: match[1] || defaultHost, port }
}

/** Command-line fault flags as text, as `wirekit proxy` receives them. */
export type FaultFlags = {
  latency?: string
  jitter?: string
  bandwidth?: string
  split?: string
  resetEvery?: string
  blackholeAfter?: string
  blackhole?: boolean
}

/**
 * Faults from command-line flags; absent flags stay absent (no fault).
 * @example parseFaults({ latency: '50', bandwidth: '64k', resetEvery: '2s' })
 */
export function parseFaults(flags: FaultFlags): Faults {
  const faults: Faults = {}
  if (flags.latency !== undefined) faults.latency = parseDuration(flags.latency)
  if (flags.jitter !== undefined) faults.jitter = parseDuration(flags.jitter)
  if (flags.bandwidth !== undefined) faults.bandwidth = parseBytes(flags.bandwidth)
  if (flags.split !== undefined) faults.split = parseBytes(flags.split)
  if (flags.resetEvery !== undefined) faults.resetEvery = parseDuration(flags.resetEvery)
  if (flags.blackholeAfter !== undefined) faults.blackholeAfter = parseDuration(flags.blackholeAfter)
  if (flags.blackhole !== undefined) faults.blackhole = flags.blackhole
  return faults
}
