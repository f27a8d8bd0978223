// Who may open a connection: a total cap and a cap per remote address. When a cap is reached, the
// oldest connection still in its handshake (no WELCOME yet) makes room for the newcomer, so silent
// connections cannot lock out a client that logs in; only when every connection has logged in is the
// newcomer refused.

import { readFileSync } from 'node:fs'
import { ErrorCodes } from '../errors.ts'
import type { Connection } from './transport/connection.ts'

export type AdmissionLimits = {
  maxConnections: number
  maxConnectionsPerAddress: number
}

/** Connections from one address: how many are open, and those still in their handshake, oldest first. */
type AddressEntry = { open: number; pending: Connection[] }

/** What `admit` answers: undefined (admitted), or the code the newcomer is refused with. */
export type Refusal = typeof ErrorCodes.MAX_CONNECTIONS | undefined

export class Admission {
  /** Every open connection (the Connection's registry: it leaves on close). */
  readonly connections = new Set<Connection>()
  /** Those still in their handshake, oldest first. */
  readonly #pending = new Set<Connection>()
  readonly #limits: AdmissionLimits
  readonly #byAddress = new Map<string, AddressEntry>()
  readonly #evict: (conn: Connection) => void

  /** `evict` closes a connection in its handshake that must make room for a newer one. */
  constructor(limits: AdmissionLimits, evict: (conn: Connection) => void) {
    this.#limits = limits
    this.#evict = evict
  }

  get size(): number {
    return this.connections.size
  }

  /** Registers `conn` as open and in its handshake, or says why it is refused. */
  admit(conn: Connection): Refusal {
    const limits = this.#limits
    const address = conn.socket.remoteAddress
    // Unix sockets have no remote address: only the total cap applies.
    let entry = address === undefined ? undefined : this.#byAddress.get(address)
    if (entry !== undefined && entry.open >= limits.maxConnectionsPerAddress) {
      if (entry.pending.length === 0) return ErrorCodes.MAX_CONNECTIONS
      this.#evict(entry.pending[0]!)
    }
    if (this.connections.size >= limits.maxConnections) {
      const oldest = this.#pending.values().next().value
      if (oldest === undefined) return ErrorCodes.MAX_CONNECTIONS
      this.#evict(oldest)
    }
    if (address !== undefined) {
      entry ??= this.#byAddress.get(address)
      if (entry === undefined) {
        entry = { open: 0, pending: [] }
        this.#byAddress.set(address, entry)
      }
      entry.open++
      entry.pending.push(conn)
    }
    this.connections.add(conn)
    this.#pending.add(conn)
    conn.registry = this
    return undefined
  }

  /** `conn` completed its handshake: it can no longer be evicted. */
  loggedIn(conn: Connection): void {
    this.#pending.delete(conn)
    const address = conn.socket.remoteAddress
    const entry = address === undefined ? undefined : this.#byAddress.get(address)
    if (entry !== undefined) remove(entry.pending, conn)
  }

  /** `conn` closed (called by the Connection). */
  delete(conn: Connection): boolean {
    if (!this.connections.delete(conn)) return false
    this.#pending.delete(conn)
    const address = conn.socket.remoteAddress
    const entry = address === undefined ? undefined : this.#byAddress.get(address)
    if (entry !== undefined) {
      entry.open--
      remove(entry.pending, conn)
      if (entry.open <= 0) this.#byAddress.delete(address!)
    }
    return true
  }
}

function remove(list: Connection[], conn: Connection): void {
  const at = list.indexOf(conn)
  if (at >= 0) list.splice(at, 1)
}

/** Descriptors kept back for the listening sockets, files, Redis and the like. */
const RESERVED_FILES = 128
const FALLBACK_MAX_CONNECTIONS = 10_000

/**
 * The default total cap: 10,000, or fewer when the process may not open that many files (read from
 * /proc/self/limits on Linux), so new clients are refused cleanly instead of failing accept() with EMFILE.
 */
export function defaultMaxConnections(): number {
  try {
    const limits = readFileSync('/proc/self/limits', 'utf8')
    const match = /^Max open files\s+(\d+)/m.exec(limits)
    if (match !== null) {
      const files = Number(match[1])
      return Math.max(64, Math.min(FALLBACK_MAX_CONNECTIONS, files - RESERVED_FILES))
    }
  } catch {
    // Not Linux: keep the fixed default.
  }
  return FALLBACK_MAX_CONNECTIONS
}
