// Checks for the CLI's option values, used as commander argument parsers: a value out of range is a usage
// error (a clear message, then exit status 2), never a hang or a nonsense figure later on.
import { InvalidArgumentError as UsageError } from 'commander'

/** A whole number within [min, max]. */
export function integer(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = /^\s*[+-]?\d+\s*$/.test(value) ? Number(value) : Number.NaN
    if (!Number.isSafeInteger(n)) throw new UsageError(`expected a whole number, got "${value}"`)
    if (n < min || n > max) throw new UsageError(`must be between ${min} and ${max}, got ${n}`)
    return n
  }
}

/** A TCP port: 0 (any free port) to 65535. */
export const port = integer(0, 65_535)

/**
 * A value checked by `parse` (which throws on bad text) and, if given, `min`/`max` on its parsed number;
 * the original text is passed on, for code that parses it again.
 */
export function checked(
  parse: (value: string) => unknown,
  range: { min?: number; max?: number; unit?: string } = {},
): (value: string) => string {
  return (value) => {
    let parsed: unknown
    try {
      parsed = parse(value)
    } catch (error) {
      throw new UsageError((error as Error).message)
    }
    const unit = range.unit ? ` ${range.unit}` : ''
    if (typeof parsed === 'number') {
      if (range.min !== undefined && parsed < range.min)
        throw new UsageError(`must be at least ${range.min}${unit}, got "${value}"`)
      if (range.max !== undefined && parsed > range.max)
        throw new UsageError(`must be at most ${range.max}${unit}, got "${value}"`)
    }
    return value
  }
}

/** A value passed through a rule check that returns `{ ok, value } | { ok: false, reason }`. */
export function rule(
  check: (value: string) => { ok: true; value: string } | { ok: false; reason: string },
): (value: string) => string {
  return (value) => {
    const result = check(value)
    if (!result.ok) throw new UsageError(result.reason)
    return result.value
  }
}
