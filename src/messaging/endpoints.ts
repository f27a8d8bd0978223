// The server URLs a MessageClient may use, and which one it dials next. The rule (documented on
// MessageClient.connect): start with the first; after a lost connection retry the same URL once (a
// brief cut should not move the session); every failed attempt moves on to the next, wrapping around.

import { InvalidArgumentError } from '../errors.ts'
import { type Endpoint, parseEndpoint } from './transport/stream.ts'

export class Endpoints {
  readonly urls: readonly string[]
  #parsed: Endpoint[]
  #index = 0

  constructor(urls: string | readonly string[]) {
    const list = typeof urls === 'string' ? [urls] : [...urls]
    if (list.length === 0) throw new InvalidArgumentError('MessageClient.connect needs at least one URL')
    // Parsed up front so a bad URL anywhere in the list fails at connect(), not at some later failover.
    this.#parsed = list.map((url) => parseEndpoint(url))
    this.urls = Object.freeze(list)
  }

  get url(): string {
    return this.urls[this.#index]!
  }

  get endpoint(): Endpoint {
    return this.#parsed[this.#index]!
  }

  /** An attempt on the current URL failed: the next one gets the next attempt. */
  advance(): void {
    this.#index = (this.#index + 1) % this.urls.length
  }
}
