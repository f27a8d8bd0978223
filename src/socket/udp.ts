// UdpSocket: GCDAsyncUdpSocket as promises over node:dgram. Datagrams wait in a bounded queue until
// receive() or `for await` takes them; when the queue is full new datagrams are dropped and counted
// (UDP may drop anyway, and an unread socket must not grow memory).
import dgram from 'node:dgram'
import {
  AbortError,
  ClosedError,
  ConnectError,
  ErrorCodes,
  InvalidArgumentError,
  TimeoutError,
  WirekitError,
} from '../errors.ts'
import { startTimer } from '../util/timeout.ts'
import { debug } from './diagnostics.ts'
import { checkNumber, checkSignal } from './options.ts'

/** Largest UDP payload: 65,535 − 8 (UDP header) − 20 (IPv4 header); IPv6 has a 40-byte header but no IP checksum field limit here. */
export const MAX_DATAGRAM_IPV4 = 65_507
export const MAX_DATAGRAM_IPV6 = 65_527

export type UdpBindOptions = {
  /** @default 0 (any free port) */
  port?: number
  /** @default '0.0.0.0' for udp4, '::' for udp6 */
  address?: string
  /** 'udp4' or 'udp6'. @default 'udp6' when `address` contains ':', else 'udp4' */
  type?: 'udp4' | 'udp6'
  /** SO_REUSEADDR: several sockets may bind the same port (multicast listeners). @default false */
  reuseAddr?: boolean
  /** udp6 only: do not also receive IPv4. @default false */
  ipv6Only?: boolean
  /** Datagrams held for receive() before new ones are dropped. @default 1024 */
  maxQueued?: number
}

export type UdpSendOptions = {
  /** Milliseconds before the send rejects with WK_WRITE_TIMEOUT. */
  timeout?: number
  /** Any value, handed back in the 'send' event and on errors. */
  tag?: unknown
}

export type UdpReceiveOptions = {
  /** Milliseconds before receive() rejects with WK_READ_TIMEOUT. */
  timeout?: number
  signal?: AbortSignal
}

/** One received datagram and its sender. */
export type Datagram = { data: Buffer; address: string; port: number; family: 'IPv4' | 'IPv6' }

type Waiter = { resolve: (d: Datagram) => void; reject: (e: WirekitError) => void; cleanup: () => void }

export class UdpSocket {
  readonly #socket: dgram.Socket
  readonly #type: 'udp4' | 'udp6'
  readonly #maxQueued: number
  #queue: Datagram[] = []
  #waiters: Waiter[] = []
  #paused = false
  #closed: WirekitError | undefined
  #dropped = 0
  #connected = false

  /** Binds and resolves once the socket is ready to send and receive. */
  static async bind(options: UdpBindOptions = {}): Promise<UdpSocket> {
    checkNumber(options.port, 'port', 0)
    checkNumber(options.maxQueued, 'maxQueued', 1)
    const type = options.type ?? (options.address?.includes(':') ? 'udp6' : 'udp4')
    if (type !== 'udp4' && type !== 'udp6') throw new InvalidArgumentError(`type must be 'udp4' or 'udp6'`)
    const socket = dgram.createSocket({
      type,
      reuseAddr: options.reuseAddr ?? false,
      ipv6Only: options.ipv6Only ?? false,
    })
    const udp = new UdpSocket(socket, type, options.maxQueued ?? 1024)
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error & { code?: string }): void => {
        socket.close()
        reject(
          new ConnectError(
            ErrorCodes.SOCKET_FAILED,
            `cannot bind UDP ${options.address ?? ''}:${options.port ?? 0}: ${error.code}`,
            {
              cause: error,
            },
          ),
        )
      }
      socket.once('error', onError)
      socket.bind({ port: options.port ?? 0, address: options.address }, () => {
        socket.off('error', onError)
        resolve()
      })
    })
    socket.on('error', (error) => debug('udp error %o', error))
    return udp
  }

  private constructor(socket: dgram.Socket, type: 'udp4' | 'udp6', maxQueued: number) {
    this.#socket = socket
    this.#type = type
    this.#maxQueued = maxQueued
    socket.on('message', (data, info) => this.#onMessage(data, info))
    socket.on('close', () => this.#finish(new ClosedError(ErrorCodes.CLOSED, 'UDP socket closed')))
  }

  /** The bound address, port and family. */
  get address(): { address: string; port: number; family: string } {
    return this.#socket.address()
  }
  get port(): number {
    return this.#socket.address().port
  }
  /** Datagrams dropped because the queue was full. */
  get dropped(): number {
    return this.#dropped
  }
  /** Datagrams waiting to be received. */
  get queued(): number {
    return this.#queue.length
  }

  /** Sends only to, and receives only from, this peer (the kernel filters other senders). */
  async connect(port: number, host?: string): Promise<void> {
    checkNumber(port, 'port', 1)
    this.#assertOpen()
    await new Promise<void>((resolve, reject) => {
      this.#socket.connect(port, host, (error?: Error) => {
        if (error)
          reject(
            new ConnectError(ErrorCodes.CONNECT_FAILED, `UDP connect failed: ${error.message}`, {
              cause: error,
            }),
          )
        else resolve()
      })
    })
    this.#connected = true
  }

  /** Removes the peer filter set by connect(). */
  disconnect(): void {
    if (this.#connected) this.#socket.disconnect()
    this.#connected = false
  }

  /**
   * Sends one datagram; resolves once handed to the kernel. `to` is required unless connected.
   * Payloads over the protocol limit are refused (WK_DATAGRAM_TOO_LARGE), never truncated.
   */
  send(
    data: Uint8Array | string,
    to?: { port: number; host?: string },
    options: UdpSendOptions = {},
  ): Promise<void> {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data
    if (!(bytes instanceof Uint8Array))
      throw new InvalidArgumentError('send() takes a Uint8Array or a string')
    checkNumber(options.timeout, 'send({ timeout })', 0, false)
    const limit = this.#type === 'udp4' ? MAX_DATAGRAM_IPV4 : MAX_DATAGRAM_IPV6
    if (bytes.length > limit) {
      return Promise.reject(
        new WirekitError(
          ErrorCodes.DATAGRAM_TOO_LARGE,
          `datagram of ${bytes.length} bytes exceeds the ${this.#type} limit of ${limit}`,
          {
            tag: options.tag,
          },
        ),
      )
    }
    if (to === undefined && !this.#connected)
      throw new InvalidArgumentError('send() needs { port, host } unless connected')
    if (to !== undefined) checkNumber(to.port, 'port', 1)
    if (this.#closed) return Promise.reject(this.#closed)
    return new Promise<void>((resolve, reject) => {
      let settled = false
      const cancel = startTimer(options.timeout, () => {
        settled = true
        reject(
          new TimeoutError(ErrorCodes.WRITE_TIMEOUT, `UDP send timed out after ${options.timeout} ms`, {
            tag: options.tag,
          }),
        )
      })
      const done = (error: Error | null): void => {
        cancel()
        if (settled) return
        settled = true
        if (error) {
          const code = (error as Error & { code?: string }).code
          reject(
            new ConnectError(ErrorCodes.SOCKET_FAILED, `UDP send failed: ${code ?? error.message}`, {
              cause: error,
              tag: options.tag,
            }),
          )
        } else resolve()
      }
      if (to)
        this.#socket.send(bytes, to.port, to.host ?? (this.#type === 'udp4' ? '127.0.0.1' : '::1'), done)
      else this.#socket.send(bytes, done)
    })
  }

  /** The next datagram. */
  receive(options: UdpReceiveOptions = {}): Promise<Datagram> {
    checkNumber(options.timeout, 'receive({ timeout })', 0, false)
    checkSignal(options.signal, 'receive({ signal })')
    if (!this.#paused && this.#queue.length > 0) return Promise.resolve(this.#queue.shift()!)
    if (this.#closed) return Promise.reject(this.#closed)
    if (options.signal?.aborted)
      return Promise.reject(new AbortError(ErrorCodes.ABORTED, 'receive() was aborted'))
    return new Promise<Datagram>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, cleanup: () => {} }
      const remove = (error: WirekitError): void => {
        const index = this.#waiters.indexOf(waiter)
        if (index < 0) return
        this.#waiters.splice(index, 1)
        waiter.cleanup()
        reject(error)
      }
      const cancel = startTimer(options.timeout, () =>
        remove(new TimeoutError(ErrorCodes.READ_TIMEOUT, `no datagram within ${options.timeout} ms`)),
      )
      const onAbort = (): void => remove(new AbortError(ErrorCodes.ABORTED, 'receive() was aborted'))
      options.signal?.addEventListener('abort', onAbort, { once: true })
      waiter.cleanup = () => {
        cancel()
        options.signal?.removeEventListener('abort', onAbort)
      }
      this.#waiters.push(waiter)
    })
  }

  /** Every datagram until close(). */
  async *[Symbol.asyncIterator](): AsyncGenerator<Datagram, void, undefined> {
    for (;;) {
      try {
        yield await this.receive()
      } catch (error) {
        if (error instanceof ClosedError) return
        throw error
      }
    }
  }

  /** Stops handing datagrams out; they queue (up to maxQueued, then drop) until resume(). */
  pause(): void {
    this.#paused = true
  }

  resume(): void {
    this.#paused = false
    this.#deliver()
  }

  /** SO_BROADCAST: allows sending to broadcast addresses. */
  setBroadcast(on: boolean): void {
    this.#socket.setBroadcast(on)
  }

  setTTL(ttl: number): void {
    this.#socket.setTTL(ttl)
  }

  /** Joins a multicast group, on the interface with address `iface` (else the kernel's choice). */
  addMembership(group: string, iface?: string): void {
    this.#socket.addMembership(group, iface)
  }

  dropMembership(group: string, iface?: string): void {
    this.#socket.dropMembership(group, iface)
  }

  setMulticastTTL(ttl: number): void {
    this.#socket.setMulticastTTL(ttl)
  }

  /** Whether our own multicast datagrams come back to us. */
  setMulticastLoopback(on: boolean): void {
    this.#socket.setMulticastLoopback(on)
  }

  /** The interface multicast datagrams leave from. */
  setMulticastInterface(iface: string): void {
    this.#socket.setMulticastInterface(iface)
  }

  /** Closes the socket; pending receive() calls reject with WK_CLOSED. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve()
    return new Promise((resolve) => this.#socket.close(() => resolve()))
  }

  #onMessage(data: Buffer, info: dgram.RemoteInfo): void {
    const datagram: Datagram = { data, address: info.address, port: info.port, family: info.family }
    if (!this.#paused && this.#waiters.length > 0) {
      const waiter = this.#waiters.shift()!
      waiter.cleanup()
      waiter.resolve(datagram)
      return
    }
    if (this.#queue.length >= this.#maxQueued) {
      this.#dropped++
      return
    }
    this.#queue.push(datagram)
  }

  #deliver(): void {
    while (!this.#paused && this.#queue.length > 0 && this.#waiters.length > 0) {
      const waiter = this.#waiters.shift()!
      waiter.cleanup()
      waiter.resolve(this.#queue.shift()!)
    }
  }

  #finish(error: WirekitError): void {
    this.#closed ??= error
    const waiters = this.#waiters
    this.#waiters = []
    for (const waiter of waiters) {
      waiter.cleanup()
      waiter.reject(error)
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw this.#closed
  }
}
