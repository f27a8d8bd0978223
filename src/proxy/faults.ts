// The faults a FaultProxy injects, their option types and validation. Shared by the proxy, its pipes and the CLI.
import { InvalidArgumentError } from '../errors.ts'

/** Faults for one direction of a connection. */
export type DirectionFaults = {
  /** Delay added to every segment, in ms. @default 0 */
  latency?: number
  /** Random variation of the delay, uniform in ±jitter ms (never below 0); byte order is kept. @default 0 */
  jitter?: number
  /** Throughput cap in bytes per second; 0 means unlimited. @default 0 */
  bandwidth?: number
  /** Forward the stream in segments of at most this many bytes, each written separately; 0 means off. @default 0 */
  split?: number
  /** Drop every byte (and the FIN) silently while keeping the connection open. @default false */
  blackhole?: boolean
}

/**
 * Faults for the whole proxy. Direction keys at the top level apply to both directions; `upstream`
 * (client → target) and `downstream` (target → client) override them for one direction.
 * @example
 * { latency: 50, jitter: 20, downstream: { bandwidth: 64 * 1024 }, resetEvery: 2000 }
 */
export type Faults = DirectionFaults & {
  upstream?: DirectionFaults
  downstream?: DirectionFaults
  /** Reset every connection (RST) at this interval, in ms; 0 means off. @default 0 */
  resetEvery?: number
  /** Blackhole each new connection, both ways, this many ms after it was accepted; 0 means off. @default 0 */
  blackholeAfter?: number
}

/** Fully resolved faults of one direction. */
export type ResolvedDirectionFaults = Required<DirectionFaults>

export const NO_FAULTS: ResolvedDirectionFaults = Object.freeze({
  latency: 0,
  jitter: 0,
  bandwidth: 0,
  split: 0,
  blackhole: false,
})

const DIRECTION_KEYS = ['latency', 'jitter', 'bandwidth', 'split', 'blackhole'] as const

/** Returns `current` with the direction keys present in `change` replaced, after validating them. */
export function mergeDirection(
  current: ResolvedDirectionFaults,
  change: DirectionFaults | undefined,
  where: string,
) {
  if (change === undefined) return current
  const next = { ...current }
  for (const key of DIRECTION_KEYS) {
    const value = change[key]
    if (value === undefined) continue
    if (key === 'blackhole') {
      if (typeof value !== 'boolean')
        throw new InvalidArgumentError(`FaultProxy: ${where}blackhole must be a boolean`)
      next.blackhole = value
    } else {
      next[key] = nonNegative(`${where}${key}`, value)
    }
  }
  return next
}

/** A finite number ≥ 0, else InvalidArgumentError. */
export function nonNegative(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new InvalidArgumentError(`FaultProxy: ${name} must be a finite number ≥ 0, got ${String(value)}`)
  }
  return value
}
