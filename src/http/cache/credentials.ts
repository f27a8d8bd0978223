// Private-cache handling of Authorization (RFC 9111 §3.5 restricts only shared caches): undici applies the shared
// rule to every cache, so the interceptor hides the header from it and keys the entry on a digest of the credential
// instead, through a Vary on a private request header. A private cache may store authorized responses; a different
// credential (another user after a logout, or none) never matches them.
import { createHash } from 'node:crypto'

/** Private request header carrying the credential digest in cache keys; never sent to the origin. */
export const CREDENTIAL_HEADER = 'x-wirekit-credential'

type HeaderValue = string | string[] | undefined

/** A digest of an Authorization value, as stored in cache entries (never the credential itself). */
export function credentialDigest(authorization: string): string {
  return createHash('sha256').update('wirekit-cache\0').update(authorization).digest('base64url').slice(0, 32)
}

/** The response's Vary plus the credential header, so the stored entry is keyed on the credential. */
export function varyWithCredential(vary: HeaderValue): string | string[] {
  if (vary === undefined) return CREDENTIAL_HEADER
  return Array.isArray(vary) ? [...vary, CREDENTIAL_HEADER] : `${vary}, ${CREDENTIAL_HEADER}`
}

/** The headers without our credential token in Vary (what the caller sees); the same object when there is none. */
export function withoutCredentialVary<H extends Record<string, HeaderValue>>(headers: H): H {
  const vary = headers.vary
  if (vary === undefined) return headers
  const joined = Array.isArray(vary) ? vary.join(',') : vary
  if (!joined.toLowerCase().includes(CREDENTIAL_HEADER)) return headers
  const kept = joined
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '' && name.toLowerCase() !== CREDENTIAL_HEADER)
  const copy: Record<string, HeaderValue> = { ...headers }
  if (kept.length === 0) delete copy.vary
  else copy.vary = kept.join(', ')
  return copy as H
}
