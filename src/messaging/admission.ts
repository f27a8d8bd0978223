// Who may open a connection: a total cap, a cap per remote address, and a cap on the connections of one
// address that have not logged in yet (the oldest of those makes room for a newcomer, so silent
// connections from one address cannot lock out a client that completes its handshake).

import { readFileSync } from 'node:fs'
import { ErrorCodes } from '../errors.ts'
import type { Connection } from './connection.ts'

export type AdmissionLimits = {
  maxConnections: number
  maxConnectionsPerAddress: number
  maxPendingPerAddress: number
}

/** Connections from one address: how many are open, and those still in their handshake, oldest first. */
type AddressEntry = { open: number; pending: Connection[] }

/** What `admit` answers: undefined (admitted), or the code the newcomer is refused with. */
export type Refusal = typeof ErrorCodes.MAX_CONNECTIONS | undefined

export class Admission {
  /** Every open connection (the Connection's registry: it leaves on close). */
  readonly connections = new Set<Connection>()
  readonly #limits: AdmissionLimits
  readonly #byAddress = new Map<string, AddressEntry>()
  readonly #evict: (conn: Connection) => void

  /** `evict` closes a pending connection that must make room for a newer one from its address. */
  constructor(limits: AdmissionLimits, evict: (conn: Connection) => void) {
    this.#limits = limits
    this.#evict = evict
  }

  get size(): number {
    return this.connections.size
  }

  /** Registers `conn` as open and pending, or says why it is refused. */
  admit(conn: Connection): Refusal {
    const limits = this.#limits
    if (this.connections.size >= limits.maxConnections) return ErrorCodes.MAX_CONNECTIONS
    const address = conn.socket.remoteAddress
    // Unix sockets have no remote address: only the total cap applies.
    if (address !== undefined) {
      let entry = this.#byAddress.get(address)
      if (entry === undefined) {
        entry = { open: 0, pending: [] }
        this.#byAddress.set(address, entry)
      }
      if (entry.open >= limits.maxConnectionsPerAddress) {
        if (entry.pending.length === 0) return ErrorCodes.MAX_CONNECTIONS
        this.#evict(entry.pending[0]!)
      } else if (entry.pending.length >= limits.maxPendingPerAddress) {
        this.#evict(entry.pending[0]!)
      }
      entry.open++
      entry.pending.push(conn)
    }
    this.connections.add(conn)
    conn.registry = this
    return undefined
  }

  /** `conn` completed its handshake: it no longer counts as pending. */
  loggedIn(conn: Connection): void {
    const entry = this.#entryOf(conn)
    if (entry !== undefined) remove(entry.pending, conn)
  }

  /** `conn` closed (called by the Connection). */
  delete(conn: Connection): boolean {
    if (!this.connections.delete(conn)) return false
    const address = conn.socket.remoteAddress
    const entry = address === undefined ? undefined : this.#byAddress.get(address)
    if (entry !== undefined) {
      entry.open--
      remove(entry.pending, conn)
      if (entry.open <= 0) this.#byAddress.delete(address!)
    }
    return true
  }

  #entryOf(conn: Connection): AddressEntry | undefined {
    const address = conn.socket.remoteAddress
    return address === undefined ? undefined : this.#byAddress.get(address)
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
