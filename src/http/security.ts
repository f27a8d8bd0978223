// The session's security policy: the ATS-like plain-HTTP rule, TLS options (validation, domain check, custom CA,
// client certificate) and SHA-256 SPKI pinning checked on the live TLS socket, after the handshake and before any
// request byte is written. Loopback is exempt from the plain-HTTP rule by default: that traffic never leaves the host.
import { createHash, X509Certificate } from 'node:crypto'
import {
  type ConnectionOptions,
  type DetailedPeerCertificate,
  rootCertificates,
  type TLSSocket,
} from 'node:tls'
import { ErrorCodes, HttpError, InvalidArgumentError } from '../errors.ts'
import type { HttpSessionOptions, SecurityOptions } from './types.ts'

const PIN = /^sha256\/[A-Za-z0-9+/]{43}=$/

export class SecurityPolicy {
  readonly #insecureHosts: Set<string> | true | undefined
  readonly #loopback: boolean
  readonly #globalPins: Set<string> | undefined
  readonly #hostPins: Map<string, Set<string>> | undefined

  constructor(options: SecurityOptions = {}) {
    const allow = options.allowInsecureHTTP
    this.#insecureHosts = allow === true ? true : Array.isArray(allow) ? new Set(allow.map(lower)) : undefined
    this.#loopback = options.allowInsecureLoopback ?? true
    const pins = options.pins
    if (Array.isArray(pins)) this.#globalPins = pinSet(pins)
    else if (pins !== undefined) {
      this.#hostPins = new Map()
      for (const host of Object.keys(pins)) this.#hostPins.set(lower(host), pinSet(pins[host]))
    }
  }

  /** True when connections need a pin check. */
  get pinning(): boolean {
    return this.#globalPins !== undefined || this.#hostPins !== undefined
  }

  /** Throws WK_HTTP_INSECURE for a plain-HTTP URL the policy does not allow. */
  checkTransport(protocol: string, hostname: string, href: string): void {
    if (protocol !== 'http:' || this.#insecureHosts === true) return
    const host = lower(hostname)
    if (this.#loopback && isLoopback(host)) return
    if (this.#insecureHosts?.has(host)) return
    throw new HttpError(
      ErrorCodes.HTTP_INSECURE,
      `Plain HTTP refused: ${href} (allow it with security.allowInsecureHTTP: ['${host}'])`,
    )
  }

  /** Checks the chain a TLS socket presented against the pins of `hostname`; returns the failure, if any. */
  verifyPins(socket: TLSSocket, hostname: string): HttpError | undefined {
    const pins = this.#pinsFor(lower(hostname))
    if (pins === undefined) return undefined
    const seen: string[] = []
    // getPeerCertificate(true) links the chain as presented and completed from the trust store (leaf → root);
    // a self-signed root is its own issuer, which ends the walk (bounded in any case).
    let cert: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true)
    for (let depth = 0; cert?.raw !== undefined && depth < 10; depth++) {
      const spki = new X509Certificate(cert.raw).publicKey.export({ type: 'spki', format: 'der' })
      const pin = `sha256/${createHash('sha256').update(spki).digest('base64')}`
      if (pins.has(pin)) return undefined
      seen.push(pin)
      const next: DetailedPeerCertificate | undefined = cert.issuerCertificate
      if (next === undefined || next === cert || next.fingerprint256 === cert.fingerprint256) break
      cert = next
    }
    return new HttpError(ErrorCodes.HTTP_PIN_MISMATCH, `Certificate pin mismatch for ${hostname}`, {
      presented: seen,
    })
  }

  #pinsFor(host: string): Set<string> | undefined {
    if (this.#hostPins === undefined) return this.#globalPins
    const exact = this.#hostPins.get(host)
    if (exact !== undefined) return exact
    const dot = host.indexOf('.')
    return dot === -1 ? undefined : this.#hostPins.get(`*${host.slice(dot)}`)
  }
}

/** node:tls options for the session's connections. */
export function tlsOptions(options: HttpSessionOptions): ConnectionOptions {
  const security = options.security ?? {}
  const tls: ConnectionOptions = {}
  if (options.ca !== undefined) {
    const extra = Array.isArray(options.ca) ? options.ca : [options.ca]
    tls.ca = [...rootCertificates, ...extra]
  }
  if (options.cert !== undefined) tls.cert = options.cert
  if (options.key !== undefined) tls.key = options.key
  if (security.allowInvalidCertificates === true) tls.rejectUnauthorized = false
  if (security.validatesDomainName === false) tls.checkServerIdentity = skipIdentityCheck
  return tls
}

function skipIdentityCheck(): undefined {
  return undefined
}

function pinSet(pins: string[]): Set<string> {
  if (!Array.isArray(pins) || pins.length === 0)
    throw new InvalidArgumentError('pins must be a non-empty list')
  for (const pin of pins) {
    if (!PIN.test(pin)) throw new InvalidArgumentError(`pin "${pin}" is not sha256/<base64 of 32 bytes>`)
  }
  return new Set(pins)
}

function isLoopback(host: string): boolean {
  return (
    host === 'localhost' ||
    host.endsWith('.localhost') ||
    host === '[::1]' ||
    host === '::1' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
  )
}

function lower(s: string): string {
  return s.toLowerCase()
}
