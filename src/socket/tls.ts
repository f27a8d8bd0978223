// TLS for AsyncSocket and AsyncServer: the option type, Node option building, public-key pins and the
// trust checks that run after the handshake (authorization, pins, then the user's verify callback).
// Nothing reaches the application before these checks pass.
import { createHash, X509Certificate } from 'node:crypto'
import type { Duplex } from 'node:stream'
import tls from 'node:tls'
import { ErrorCodes, InvalidArgumentError, TlsError } from '../errors.ts'

type Pem = string | Buffer | (string | Buffer)[]

/** TLS settings for a client (connect, startTLS) or a server (listen, accepted startTLS). */
export type TlsOptions = {
  /** Trusted CA certificates (PEM). @default Node's bundled Mozilla roots */
  ca?: Pem
  /** Our certificate chain (PEM): the server certificate, or a client certificate for mTLS. */
  cert?: Pem
  /** The private key of `cert` (PEM). */
  key?: Pem
  /** Passphrase of `key`. */
  passphrase?: string
  /** Client: the name sent as SNI and checked against the certificate. @default the host connected to */
  servername?: string
  /**
   * Reject a peer whose certificate does not chain to `ca` or does not match the name. A server
   * applies it to client certificates when `requestCert` is set. Turn it off only with `pins` or `verify`.
   * @default true
   */
  rejectUnauthorized?: boolean
  /**
   * SHA-256 pins of SubjectPublicKeyInfo, as `sha256/<base64>`: the connection is trusted only if a
   * certificate of the peer's chain has one of these keys.
   * @example pins: ['sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=']
   */
  pins?: string[]
  /** Manual trust evaluation after the built-in checks; false (or a throw) rejects the peer. */
  verify?: (peer: TlsPeer) => boolean | Promise<boolean>
  /** ALPN protocols offered (client) or accepted (server), in preference order. */
  alpn?: string[]
  /** Server: ask the client for a certificate (mTLS). @default false */
  requestCert?: boolean
  /** Milliseconds the handshake (and the trust checks) may take. @default 10_000 */
  handshakeTimeout?: number
  /** Lowest protocol version accepted. @default 'TLSv1.2' */
  minVersion?: tls.SecureVersion
}

/** What `verify` sees of the peer. */
export type TlsPeer = {
  /** The peer's leaf certificate (absent when a client sent none). */
  certificate: X509Certificate | undefined
  /** True when Node's chain (and, on clients, hostname) checks passed. */
  authorized: boolean
  /** Why they failed, an OpenSSL code such as `CERT_HAS_EXPIRED`. */
  authorizationError: string | undefined
  /** The `sha256/<base64>` SPKI pin of the leaf. */
  pin: string | undefined
  /** The negotiated ALPN protocol, or false. */
  alpnProtocol: string | false
  /** 'TLSv1.3', 'TLSv1.2'… */
  protocol: string | null
  /** Client side: the name we checked. */
  servername: string | undefined
}

/** The default handshake deadline. */
export const DEFAULT_HANDSHAKE_TIMEOUT = 10_000

/** Checks the shape of TLS options; misuse throws at once. */
export function validateTlsOptions(options: TlsOptions, where: string): void {
  if (options.pins !== undefined) {
    if (!Array.isArray(options.pins) || options.pins.length === 0) {
      throw new InvalidArgumentError(
        `${where}: tls.pins must be a non-empty array of 'sha256/<base64>' strings`,
      )
    }
    for (const pin of options.pins) {
      if (typeof pin !== 'string' || !/^sha256\/[A-Za-z0-9+/]{43}=$/.test(pin)) {
        throw new InvalidArgumentError(
          `${where}: tls.pins entry ${JSON.stringify(pin)} is not 'sha256/<base64>'`,
        )
      }
    }
  }
  if (options.verify !== undefined && typeof options.verify !== 'function') {
    throw new InvalidArgumentError(`${where}: tls.verify must be a function`)
  }
}

/** Options for tls.connect (a client), over `socket` when upgrading in place. */
export function clientOptions(
  options: TlsOptions,
  host: string | undefined,
  socket?: Duplex,
): tls.ConnectionOptions {
  const servername = options.servername ?? (host !== undefined && !isIp(host) ? host : undefined)
  return {
    ca: options.ca,
    cert: options.cert,
    key: options.key,
    passphrase: options.passphrase,
    servername,
    rejectUnauthorized: options.rejectUnauthorized ?? true,
    ALPNProtocols: options.alpn,
    minVersion: options.minVersion ?? 'TLSv1.2',
    // With an IP and no servername, Node checks the certificate against the IP.
    checkServerIdentity: (hostname, cert) => tls.checkServerIdentity(servername ?? host ?? hostname, cert),
    ...(socket ? { socket } : {}),
  }
}

/**
 * Options for a TLS server. Client certificates are requested but never rejected by Node itself:
 * the verdict is ours (after the handshake), so it carries a stable code instead of a silent close.
 */
export function serverOptions(options: TlsOptions): tls.TlsOptions {
  return {
    ca: options.ca,
    cert: options.cert,
    key: options.key,
    passphrase: options.passphrase,
    requestCert: options.requestCert ?? false,
    rejectUnauthorized: false,
    ALPNProtocols: options.alpn,
    minVersion: options.minVersion ?? 'TLSv1.2',
    handshakeTimeout: options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT,
  }
}

/** The `sha256/<base64>` pin of a certificate's public key. */
export function pinOf(certificate: X509Certificate): string {
  const spki = certificate.publicKey.export({ type: 'spki', format: 'der' })
  return `sha256/${createHash('sha256').update(spki).digest('base64')}`
}

/** What `verify` gets to see. */
export function peerOf(socket: tls.TLSSocket, servername: string | undefined): TlsPeer {
  const certificate = socket.getPeerX509Certificate()
  const error = socket.authorizationError as unknown as Error | string | null | undefined
  return {
    certificate,
    authorized: socket.authorized,
    authorizationError: error == null ? undefined : typeof error === 'string' ? error : String(error.message),
    pin: certificate ? pinOf(certificate) : undefined,
    alpnProtocol: socket.alpnProtocol ?? false,
    protocol: socket.getProtocol(),
    servername,
  }
}

/** Pins of every certificate the peer presented, leaf first. */
function chainPins(socket: tls.TLSSocket): string[] {
  const pins: string[] = []
  let cert = socket.getPeerCertificate(true) as tls.DetailedPeerCertificate | undefined
  const seen = new Set<string>()
  // Bounded: a chain is short, and the root points at itself.
  for (let i = 0; cert?.raw && i < 16; i++) {
    const pin = pinOf(new X509Certificate(cert.raw))
    if (seen.has(pin)) break
    seen.add(pin)
    pins.push(pin)
    cert = cert.issuerCertificate
  }
  return pins
}

/**
 * The trust checks after a completed handshake, in order: Node's verdict (servers with requestCert;
 * clients are already checked by Node unless rejectUnauthorized is off), pins, then `verify`.
 */
export async function checkPeer(
  socket: tls.TLSSocket,
  options: TlsOptions,
  isServer: boolean,
  servername: string | undefined,
  where: string,
): Promise<void> {
  const reject = options.rejectUnauthorized ?? true
  if (isServer && options.requestCert && reject && !socket.authorized) {
    const reason = String(socket.authorizationError ?? 'no certificate')
    const noCert = socket.getPeerX509Certificate() === undefined
    throw new TlsError(
      noCert ? ErrorCodes.TLS_REJECTED : ErrorCodes.TLS_UNTRUSTED,
      noCert
        ? `client ${where} sent no certificate`
        : `client certificate of ${where} is not trusted (${reason})`,
      { reason },
    )
  }
  if (options.pins) {
    const pins = chainPins(socket)
    if (!pins.some((pin) => options.pins!.includes(pin))) {
      throw new TlsError(ErrorCodes.TLS_PIN_MISMATCH, `no certificate of ${where} matches the pinned keys`, {
        presented: pins,
      })
    }
  }
  if (options.verify) {
    let trusted: boolean
    try {
      trusted = await options.verify(peerOf(socket, servername))
    } catch (cause) {
      throw new TlsError(ErrorCodes.TLS_REJECTED, `verify() threw for ${where}`, { cause })
    }
    if (trusted !== true) throw new TlsError(ErrorCodes.TLS_REJECTED, `verify() rejected ${where}`)
  }
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':')
}
