// Option checks shared by the codec factories: a bad option throws InvalidArgumentError at construction,
// so a misconfigured codec never reaches the wire.
import { constants } from 'node:buffer'
import { InvalidArgumentError } from '../errors.ts'

/** The largest buffer Node can allocate: no frame limit may exceed it. */
export const MAX_BUFFER_LENGTH: number = constants.MAX_LENGTH

/** Returns `value` when it is an integer in [min, max], else throws InvalidArgumentError naming `name`. */
export function integerOption(codec: string, name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(
      `${codec}: ${name} must be an integer in [${min}, ${max}], got ${describe(value)}`,
    )
  }
  return value
}

/** Throws unless `target` has room for `needed` bytes from `offset`: caught here, not as a RangeError mid-write. */
export function checkRoom(codec: string, target: Buffer, offset: number, needed: number): void {
  if (!Number.isInteger(offset) || offset < 0 || offset + needed > target.length) {
    throw new InvalidArgumentError(
      `${codec}: encodeInto needs ${needed} bytes at offset ${offset}, target has ${target.length}`,
    )
  }
}

export function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value)
}
