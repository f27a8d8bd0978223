// What `api.get()` returns: a Promise of the first delivered response, plus `.updates()`, an async iterator over
// every delivery (one without a cache; cached-then-fresh under 'cache-then-network'). Deliveries are driven whether
// or not anyone iterates, and buffered (there are at most a few), so a late `updates()` still sees them all.
import type { WirekitError } from '../errors.ts'
import type { HttpResponse } from './response.ts'

/** The deliveries of one request, in order. */
export class DeliveryFeed<R> {
  readonly #items: R[] = []
  #done = false
  #error: WirekitError | undefined
  #wake: (() => void) | undefined

  push(item: R): void {
    this.#items.push(item)
    this.#notify()
  }

  end(error?: WirekitError): void {
    this.#done = true
    this.#error = error
    this.#notify()
  }

  #notify(): void {
    const wake = this.#wake
    this.#wake = undefined
    wake?.()
  }

  async *iterate(): AsyncGenerator<R> {
    let index = 0
    while (true) {
      if (index < this.#items.length) {
        yield this.#items[index++]
        continue
      }
      if (this.#done) {
        if (this.#error !== undefined) throw this.#error
        return
      }
      const { promise, resolve } = Promise.withResolvers<void>()
      const previous = this.#wake
      this.#wake =
        previous === undefined
          ? resolve
          : () => {
              previous()
              resolve()
            }
      await promise
    }
  }
}

export class ResponsePromise<T = unknown> extends Promise<HttpResponse<T>> {
  // then/catch/finally return plain Promises: only the promise from the request carries updates().
  static override get [Symbol.species](): PromiseConstructor {
    return Promise
  }

  #feed: DeliveryFeed<HttpResponse<T>> | undefined

  /** Attaches the delivery feed (cache runs); without one, updates() yields the response itself. */
  attach(feed: DeliveryFeed<HttpResponse<T>>): this {
    this.#feed = feed
    return this
  }

  /** Every delivered response, in order; ends after the last one, throws if a later delivery failed. */
  updates(): AsyncGenerator<HttpResponse<T>> {
    return this.#feed?.iterate() ?? single(this)
  }
}

async function* single<T>(promise: Promise<HttpResponse<T>>): AsyncGenerator<HttpResponse<T>> {
  yield await promise
}

/** A ResponsePromise with its resolve and reject functions. */
export function responsePromise<T>(): {
  promise: ResponsePromise<T>
  resolve: (response: HttpResponse<T>) => void
  reject: (error: unknown) => void
} {
  let resolve!: (response: HttpResponse<T>) => void
  let reject!: (error: unknown) => void
  const promise = new ResponsePromise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}
