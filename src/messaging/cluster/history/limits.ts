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
