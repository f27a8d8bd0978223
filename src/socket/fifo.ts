// A first-in first-out queue linked through its items' own `next` field. The socket's read and write
// queues hold zero, one or a few operations for most of their life; an array would keep a backing
// store of 16 slots per socket after its first push, a linked queue keeps nothing when empty.

/** An item of a Fifo: the queue owns `next` while the item is in it. */
export type Linked<T> = { next: T | undefined }

export class Fifo<T extends Linked<T>> {
  #head: T | undefined
  #tail: T | undefined
  #size = 0

  /** The oldest item, or undefined when empty. */
  get first(): T | undefined {
    return this.#head
  }

  get size(): number {
    return this.#size
  }

  push(item: T): void {
    item.next = undefined
    if (this.#tail === undefined) this.#head = item
    else this.#tail.next = item
    this.#tail = item
    this.#size++
  }

  /** Removes and returns the oldest item. */
  shift(): T | undefined {
    const item = this.#head
    if (item === undefined) return undefined
    this.#head = item.next
    if (this.#head === undefined) this.#tail = undefined
    item.next = undefined
    this.#size--
    return item
  }

  /** Removes `item` wherever it is; returns its former position, or -1 when it is not queued. */
  remove(item: T): number {
    let previous: T | undefined
    let index = 0
    for (let at = this.#head; at !== undefined; previous = at, at = at.next, index++) {
      if (at !== item) continue
      if (previous === undefined) this.#head = at.next
      else previous.next = at.next
      if (this.#tail === at) this.#tail = previous
      at.next = undefined
      this.#size--
      return index
    }
    return -1
  }

  /** Empties the queue and returns its items, oldest first. */
  drain(): T[] {
    const items: T[] = []
    for (let item = this.shift(); item !== undefined; item = this.shift()) items.push(item)
    return items
  }
}
