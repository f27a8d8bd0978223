// Who may resume a session: the secret resume token handed out in WELCOME, and the public session ids
// that name peers' own rooms. The id is public (printed, listed, a room name); only the token resumes.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'

/** Session ids, and so peers' own rooms, start with this; `join()` refuses room names that do. */
export const OWN_ROOM_PREFIX = '~'

/** A new public session id: `~` and 128 random bits. */
export function newSessionId(): string {
  return OWN_ROOM_PREFIX + randomBytes(16).toString('base64url')
}

/** Whether `room` is in the namespace of peers' own rooms (which no `join()` can reach). */
export function isOwnRoomName(room: string): boolean {
  return typeof room === 'string' && room.startsWith(OWN_ROOM_PREFIX)
}

/** A new resume token: 192 random bits, base64url (32 characters). */
export function newResumeToken(): string {
  return randomBytes(24).toString('base64url')
}

/** SHA-256 of a token, hex: what a store of copies (Redis) keeps instead of the token itself. */
export function tokenDigest(token: string): string {
  return createHash('sha256').update(token).digest('hex')
}

/**
 * Compares a presented secret with the expected one in constant time. Lengths are not secret (every
 * token has the same length), so a length mismatch answers at once.
 */
export function secretsMatch(presented: unknown, expected: string | undefined): boolean {
  if (typeof presented !== 'string' || expected === undefined) return false
  const a = Buffer.from(presented, 'utf8')
  const b = Buffer.from(expected, 'utf8')
  return a.length === b.length && timingSafeEqual(a, b)
}
