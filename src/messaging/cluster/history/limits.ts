// History limits and read options: defaults, validation (misuse throws at once), and the rule that
// decides which oldest entries of a room go. Shared by every store so they trim alike.

import { InvalidArgumentError } from '../../../errors.ts'
import type { HistoryLimits } from './types.ts'

export type ResolvedLimits = { maxMessages: number; maxAge: number; maxBytes: number }

export const DEFAULT_LIMITS: ResolvedLimits = {
  maxMessages: 10_000,
  maxAge: 86_400_000,
  maxBytes: 16 * 1024 * 1024,
}

export const DEFAULT_READ_LIMIT = 1000
export const MAX_READ_LIMIT = 10_000

function positive(name: string, value: number | undefined, fallback: number, integer: boolean): number {
  if (value === undefined) return fallback
  if (value === Number.POSITIVE_INFINITY) return value
  if (typeof value !== 'number' || !(value > 0) || (integer && !Number.isSafeInteger(value))) {
    throw new InvalidArgumentError(
      `history: ${name} must be a positive ${integer ? 'integer' : 'number'} or Infinity, got ${String(value)}`,
    )
  }
  return value
}

/** Limits with defaults filled in; throws WK_INVALID_ARGUMENT on a bad value. */
export function resolveLimits(limits: HistoryLimits = {}): ResolvedLimits {
  return {
    maxMessages: positive('maxMessages', limits.maxMessages, DEFAULT_LIMITS.maxMessages, true),
    maxAge: positive('maxAge', limits.maxAge, DEFAULT_LIMITS.maxAge, false),
    maxBytes: positive('maxBytes', limits.maxBytes, DEFAULT_LIMITS.maxBytes, true),
  }
}

/** A read limit within 1..MAX_READ_LIMIT; throws on a value that is not a positive integer. */
export function resolveReadLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_READ_LIMIT
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new InvalidArgumentError(`history: read limit must be a positive integer, got ${String(limit)}`)
  }
  return Math.min(limit, MAX_READ_LIMIT)
}

/** The bytes an entry counts for against maxBytes. */
export function entrySize(name: string, data: Uint8Array): number {
  return Buffer.byteLength(name) + data.byteLength
}

/**
 * Whether the oldest entry must go: the room holds `count` entries of `bytes` in all, the oldest
 * appended at `oldestTime`. Applied repeatedly from the oldest until it says no.
 */
export function mustTrim(
  limits: ResolvedLimits,
  count: number,
  bytes: number,
  oldestTime: number,
  now: number,
): boolean {
  return count > limits.maxMessages || bytes > limits.maxBytes || oldestTime < now - limits.maxAge
}

/** Per-room-pattern limits: `false` makes matching rooms not durable (no log at all). */
export type RoomPatterns = Record<string, HistoryLimits | false>

/** Rooms looked up are remembered up to this many, then the memo starts over (bounded memory). */
const MEMO_SIZE = 10_000

/**
 * The limits of each room: the first pattern (in the order written) that matches the room's name wins,
 * `*` standing for any run of characters; rooms no pattern matches get the base limits.
 * @example new RoomLimits({ maxMessages: 1000 }, { 'typing:*': false, 'audit:*': { maxAge: Infinity } })
 */
export class RoomLimits {
  readonly base: ResolvedLimits
  readonly #patterns: { match: RegExp; limits: ResolvedLimits | false }[]
  #memo = new Map<string, ResolvedLimits | false>()

  constructor(base: HistoryLimits = {}, rooms: RoomPatterns = {}) {
    this.base = resolveLimits(base)
    this.#patterns = Object.entries(rooms).map(([pattern, limits]) => {
      if (limits !== false && (typeof limits !== 'object' || limits === null)) {
        throw new InvalidArgumentError(`history: rooms['${pattern}'] must be limits or false`)
      }
      const source = pattern
        .split('*')
        .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*')
      return {
        match: new RegExp(`^${source}$`, 's'),
        limits: limits === false ? false : resolveLimits({ ...base, ...limits }),
      }
    })
  }

  /** The room's limits, or false when the room is not durable. */
  for(room: string): ResolvedLimits | false {
    if (this.#patterns.length === 0) return this.base
    let limits = this.#memo.get(room)
    if (limits === undefined) {
      limits = this.#patterns.find((p) => p.match.test(room))?.limits ?? this.base
      if (this.#memo.size >= MEMO_SIZE) this.#memo = new Map()
      this.#memo.set(room, limits)
    }
    return limits
  }

  /** The limits a store applies to a room (a store keeps whatever it is given, so `false` means base). */
  store(room: string): ResolvedLimits {
    const limits = this.for(room)
    return limits === false ? this.base : limits
  }
}
