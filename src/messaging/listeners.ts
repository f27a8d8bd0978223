// A small event registry for clients, servers and peers. Their `emit` sends a message over the wire,
// so they cannot be EventEmitters; this keeps `on/off/once` familiar and costs nothing until used.
// Unlike an EventEmitter, an exception in a listener never reaches the event loop: one peer's bad
// message must not take the process (and every other peer) down.

import { publishError } from './channels.ts'

// biome-ignore lint/suspicious/noExplicitAny: listeners take whatever the event carries
export type Listener = (...args: any[]) => void

export class Listeners {
  #map: Map<string, Listener[]> | undefined
  /** Where an error goes when no 'error' listener is registered here (a peer's go to its server). */
  #unheard: ((error: unknown) => void) | undefined

  constructor(unheard?: (error: unknown) => void) {
    this.#unheard = unheard
  }

  on(event: string, listener: Listener): void {
    this.#map ??= new Map()
    const list = this.#map.get(event)
    // Copy on write: a listener removing itself during dispatch does not disturb the loop.
    this.#map.set(event, list === undefined ? [listener] : [...list, listener])
  }

  off(event: string, listener: Listener): void {
    const list = this.#map?.get(event)
    if (list === undefined) return
    const index = list.lastIndexOf(listener)
    if (index === -1) return
    const next = list.filter((_, i) => i !== index)
    if (next.length === 0) this.#map!.delete(event)
    else this.#map!.set(event, next)
  }

  once(event: string, listener: Listener): void {
    const wrapper: Listener = (...args) => {
      this.off(event, wrapper)
      listener(...args)
    }
    this.on(event, wrapper)
  }

  has(event: string): boolean {
    return this.#map?.has(event) ?? false
  }

  count(event: string): number {
    return this.#map?.get(event)?.length ?? 0
  }

  /**
   * Calls the listeners of `event`. A throwing listener does not stop the others or the connection:
   * the error goes to the 'error' listeners, else to the owner's fallback, else to debuglog and the
   * `wirekit:messaging:error` channel. Returns whether any listener ran.
   */
  dispatch(event: string, a?: unknown, b?: unknown): boolean {
    const list = this.#map?.get(event)
    if (list === undefined) return false
    for (const listener of list) {
      try {
        listener(a, b)
      } catch (error) {
        this.fail(error)
      }
    }
    return true
  }

  /** Reports an error thrown by application code. */
  fail(error: unknown): void {
    const handlers = this.#map?.get('error')
    if (handlers !== undefined && handlers.length > 0) {
      for (const handler of handlers) {
        try {
          handler(error)
        } catch (again) {
          // An 'error' listener that throws has nowhere left to report to.
          publishError(asError(again), undefined, true)
        }
      }
      return
    }
    if (this.#unheard !== undefined) this.#unheard(error)
    else publishError(asError(error), undefined, true)
  }
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value))
}
