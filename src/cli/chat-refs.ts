// Which lines a room already holds, by the `ref` their sender gave them: a client that never got the
// answer to its `say` (connection cut, session lost, server restarted, page reloaded) sends the line
// again with the same ref, and it must be stored once. The index of a room is loaded from the room's log
// the first time the room is used after a start (so it survives a restart with a persistent log), then
// kept up to date; a line being appended is in it from the start, so a copy that arrives meanwhile waits
// for the first one and gets the same answer.
//
// Bounded: the refs of a room's last `perRoom` lines (the log keeps no more than that), for at most
// `rooms` rooms (the least recently used room is dropped and read again from its log when needed).

/** Where a stored line is: its offset in the room's log. */
export type Stored = Promise<number>

export type ChatRefsOptions = {
  /** Reads the refs of the room's last lines from its log, oldest first. */
  load(room: string, last: number): Promise<{ ref: string; offset: number }[]>
  /** Refs kept per room. @default 1000 */
  perRoom?: number
  /** Rooms indexed at once. @default 256 */
  rooms?: number
}

type RoomRefs = Map<string, Stored>

export class ChatRefs {
  readonly #options: Required<ChatRefsOptions>
  /** room → its index (a Map keeps insertion order: the first room is the least recently used). */
  readonly #rooms = new Map<string, Promise<RoomRefs>>()

  constructor(options: ChatRefsOptions) {
    this.#options = { perRoom: 1000, rooms: 256, ...options }
  }

  /**
   * Stores a line once: if `ref` is new in `room`, runs `append` and remembers it; if the room already
   * has it (stored, or being stored), answers with that line's offset instead.
   */
  async once(
    room: string,
    ref: string,
    append: () => Promise<number>,
  ): Promise<{ offset: number; again: boolean }> {
    const refs = await this.#room(room)
    const known = refs.get(ref)
    if (known !== undefined) {
      try {
        return { offset: await known, again: true }
      } catch {
        // The first copy could not be stored: this one tries (fall through).
      }
    }
    const stored = append()
    refs.set(ref, stored)
    if (refs.size > this.#options.perRoom) refs.delete(refs.keys().next().value!)
    // A line that could not be stored is forgotten, so sending it again tries again.
    stored.catch(() => {
      if (refs.get(ref) === stored) refs.delete(ref)
    })
    return { offset: await stored, again: false }
  }

  #room(room: string): Promise<RoomRefs> {
    const cached = this.#rooms.get(room)
    if (cached !== undefined) {
      // Most recently used goes last.
      this.#rooms.delete(room)
      this.#rooms.set(room, cached)
      return cached
    }
    const loading = this.#options.load(room, this.#options.perRoom).then(
      (lines) => new Map(lines.map((l) => [l.ref, Promise.resolve(l.offset)] as const)),
      (error: unknown) => {
        // Not cached: the next line of the room reads the log again.
        if (this.#rooms.get(room) === loading) this.#rooms.delete(room)
        throw error
      },
    )
    this.#rooms.set(room, loading)
    if (this.#rooms.size > this.#options.rooms) this.#rooms.delete(this.#rooms.keys().next().value!)
    return loading
  }
}
