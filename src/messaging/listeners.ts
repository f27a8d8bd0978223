// A small event registry for clients, servers and peers. Their `emit` sends a message over the wire,
// so they cannot be EventEmitters; this keeps `on/off/once` familiar and costs nothing until used.

// biome-ignore lint/suspicious/noExplicitAny: listeners take whatever the event carries
export type Listener = (...args: any[]) => void

export class Listeners {
  #map: Map<string, Listener[]> | undefined

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
   * the error goes to the 'error' listeners, or is rethrown on the next tick like an EventEmitter would.
   * Returns whether any listener ran.
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
      for (const handler of handlers) handler(error)
      return
    }
    process.nextTick(rethrow, error)
  }
}

function rethrow(error: unknown): never {
  throw error
}
