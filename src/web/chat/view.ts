// What the chat page shows: the rooms, one log per room, who is here, the connection state. Everything
// from the server goes in as text (textContent), never as markup. Lines carry their place in the room's
// log (`offset`), so a line seen live and again in the history shows once, in log order; and a line with
// the same sender and `ref` as one shown is the same line sent again (a server restarted without its log
// stored it anew): it shows once too.

import { byId, type El, element, page } from '../dom.ts'

/** A chat line as the server sends it (src/cli/chat-server.ts ChatLine). */
export type Line = {
  room: string
  from: string
  text: string
  at: number
  me?: boolean
  offset?: number
  epoch?: string
  ref?: string
}
/** A line typed here and not yet acknowledged by the server; `sent`: handed to the client (in its outbox). */
export type Typed = { ref: string; room: string; text: string; me?: boolean; sent?: boolean }
export type Mark = 'pending' | 'delivered' | 'failed'

/** Lines kept per room in the page; older ones are dropped from the view (the server's history keeps them). */
const MAX_ITEMS = 500

const MARK_TEXT: Record<Mark, string> = {
  pending: '… pending',
  delivered: '✓ delivered',
  failed: '✗ not sent',
}

type RoomView = {
  log: El
  /** offset → who and when, to tell the same log from a new one after a server restart. */
  shown: Map<number, string>
  who: string[]
  /** sender + ref → the item showing that line. */
  refs: Map<string, El>
  /** The log's epoch the offsets belong to. */
  epoch?: string
}

export class ChatView {
  readonly #rooms = new Map<string, RoomView>()
  #current = ''
  #scrollPending = false
  /** Lines typed here still waiting for their mark to settle: ref → the item and its mark. */
  readonly #typed = new Map<string, { item: El; badge: El }>()
  /** An item's key in its room's `refs`. */
  readonly #refKeys = new WeakMap<El, string>()

  onSelect: (room: string) => void = () => {}

  showLogin(error = ''): void {
    byId('chat').hidden = true
    byId('login').hidden = false
    byId('login-error').textContent = error
    byId(error ? 'name' : 'name').focus()
  }

  showChat(): void {
    byId('login').hidden = true
    byId('chat').hidden = false
  }

  state(text: string, kind: 'up' | 'down' | ''): void {
    const node = byId('state')
    if (node.textContent !== text) node.textContent = text
    node.className = kind
  }

  /** The room list, `current` selected (its log shown, the others hidden). */
  rooms(rooms: string[], current: string): void {
    this.#current = current
    const list = byId('rooms')
    list.replaceChildren(
      ...rooms.map((room) => {
        const item = element('li')
        const button = element('button', `#${room}`, 'room')
        button.setAttribute('type', 'button')
        if (room === current) button.setAttribute('aria-current', 'true')
        button.addEventListener('click', () => this.onSelect(room))
        item.append(button)
        return item
      }),
    )
    for (const [room, view] of this.#rooms) view.log.hidden = room !== current
    if (current !== '') this.#room(current).log.hidden = false
    byId('room-title').textContent = current ? `#${current}` : 'no room: join one'
    byId('line-label').textContent = current ? `Message #${current}` : 'Message'
    byId('leave').disabled = current === ''
    this.#renderWho()
  }

  forget(room: string): void {
    this.#rooms.get(room)?.log.remove()
    this.#rooms.delete(room)
  }

  who(room: string, names: string[]): void {
    this.#room(room).who = names
    if (room === this.#current) this.#renderWho()
  }

  /** A line from the server; a line of ours (same ref) replaces its pending copy. */
  line(line: Line, mine: boolean): void {
    const view = this.#room(line.room)
    const typed = mine && line.ref !== undefined ? this.#typed.get(line.ref)?.item : undefined
    if (typeof line.epoch === 'string' && line.epoch !== view.epoch) {
      if (view.epoch !== undefined) this.#newLog(line.room, view)
      view.epoch = line.epoch
    }
    if (line.offset !== undefined) {
      if (view.shown.has(line.offset)) {
        if (typed !== undefined) {
          // Shown already (from the history): the typed copy is the same line.
          typed.remove()
          this.#typed.delete(line.ref!)
        }
        return
      }
    }
    const key = line.ref === undefined ? undefined : `${line.from}\n${line.ref}`
    const twin = key === undefined ? undefined : view.refs.get(key)
    if (twin !== undefined && typed === undefined) {
      // The same line again, at a new place in a new log: shown once, now known by its new offset.
      if (line.offset !== undefined) {
        view.shown.set(line.offset, signature(line))
        twin.dataset.offset = String(line.offset)
      }
      return
    }
    if (line.offset !== undefined) view.shown.set(line.offset, signature(line))
    const item = typed ?? element('li')
    if (key !== undefined) {
      view.refs.set(key, item)
      this.#refKeys.set(item, key)
    }
    item.replaceChildren(...lineParts(line))
    if (line.offset !== undefined) item.dataset.offset = String(line.offset)
    if (typed !== undefined) {
      this.mark(line.ref!, 'delivered')
      this.#typed.delete(line.ref!)
      // Now it has its place in the log (lines from others may have come before it).
      typed.remove()
      this.#insert(view, typed, line.offset)
      return
    }
    this.#insert(view, item, line.offset)
  }

  /** A line typed here, shown at once with its mark. */
  typed(typed: Typed, from: string): void {
    const item = element('li', undefined, 'pending')
    item.dataset.ref = typed.ref
    item.append(...lineParts({ ...typed, from, at: Date.now() }))
    this.#typed.set(typed.ref, { item, badge: element('span') })
    this.mark(typed.ref, 'pending')
    this.#insert(this.#room(typed.room), item, undefined)
  }

  mark(ref: string, mark: Mark, reason?: string): void {
    const typed = this.#typed.get(ref)
    if (typed === undefined) return
    const { item, badge } = typed
    if (badge.parentElement !== item) item.append(badge)
    badge.className = `mark ${mark}`
    badge.textContent = reason ? `${MARK_TEXT[mark]}: ${reason}` : MARK_TEXT[mark]
    // The item stays known until its line comes back from the server (which fills in its place in the log).
    if (mark !== 'pending') item.classList.remove('pending')
    if (mark === 'failed') this.#typed.delete(ref)
  }

  notice(room: string, text: string, error = false): void {
    this.#insert(this.#room(room), element('li', text, error ? 'notice error' : 'notice'), undefined)
  }

  /**
   * The room's last lines. After a lost session the server may have restarted: if the log it has now is
   * not the one shown (offsets carry other lines, or it is shorter), it started again.
   */
  history(room: string, lines: Line[], afterLoss: boolean, mine: (line: Line) => boolean): void {
    const view = this.#room(room)
    // Lines with an epoch say it themselves (line()); an empty history after a loss is a new log too.
    const judged = lines.some((l) => typeof l.epoch === 'string')
      ? lines.length === 0
      : isNewLog(view.shown, lines)
    if (afterLoss && view.shown.size > 0 && judged) {
      this.#newLog(room, view)
      view.epoch = undefined
    }
    for (const line of lines) this.line(line, mine(line))
  }

  /** The server's log of the room started again: the lines shown keep their order above the new log's. */
  #newLog(room: string, view: RoomView): void {
    view.shown.clear()
    const items = view.log.children
    for (let i = 0; i < items.length; i++) items[i]!.removeAttribute('data-offset')
    this.notice(room, `the server restarted; the log of #${room} starts again here`)
  }

  #room(room: string): RoomView {
    let view = this.#rooms.get(room)
    if (view === undefined) {
      const log = element('ol', undefined, 'log')
      // role=log is a polite live region: new lines are read out, old ones are not re-read.
      log.setAttribute('role', 'log')
      log.setAttribute('aria-label', `Messages in #${room}`)
      log.hidden = room !== this.#current
      byId('logs').append(log)
      view = { log, shown: new Map(), who: [], refs: new Map() }
      this.#rooms.set(room, view)
    }
    return view
  }

  /** In log order: before the first line with a later offset; lines without one (notices, pending) go last. */
  #insert(view: RoomView, item: El, offset: number | undefined): void {
    let before: El | null = null
    const items = view.log.children
    if (offset !== undefined) {
      for (let i = items.length - 1; i >= 0; i--) {
        const at = Number(items[i]!.dataset.offset ?? Number.NaN)
        if (at > offset) before = items[i]!
        else if (at < offset) break
      }
      // A line newer than all goes above the lines still waiting to be sent (they will come after it).
      if (before === null) {
        for (let i = 0; i < items.length && before === null; i++)
          if (items[i]!.classList.contains('pending')) before = items[i]!
      }
    }
    this.#scrollSoon()
    view.log.insertBefore(item, before)
    // Bounded: a flood (or a long day) cannot grow the page without end.
    while (items.length > MAX_ITEMS) {
      const oldest = items[0]!
      if (oldest.dataset.offset !== undefined) view.shown.delete(Number(oldest.dataset.offset))
      if (oldest.dataset.ref !== undefined) this.#typed.delete(oldest.dataset.ref)
      const key = this.#refKeys.get(oldest)
      if (key !== undefined && view.refs.get(key) === oldest) view.refs.delete(key)
      oldest.remove()
    }
  }

  /** Keeps the newest line in view if the reader was at the bottom: one layout read per frame, not per line. */
  #scrollSoon(): void {
    if (this.#scrollPending) return
    const scroller = byId('logs')
    const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 40
    this.#scrollPending = true
    page.requestAnimationFrame(() => {
      this.#scrollPending = false
      if (atBottom) scroller.scrollTop = scroller.scrollHeight
    })
  }

  #renderWho(): void {
    const names = this.#rooms.get(this.#current)?.who ?? []
    byId('who-title').textContent = this.#current ? `Here in #${this.#current} (${names.length})` : 'Here'
    byId('who').replaceChildren(...names.map((name) => element('li', name)))
  }
}

function signature(line: Line): string {
  return `${line.at}|${line.from}`
}

function isNewLog(shown: Map<number, string>, lines: Line[]): boolean {
  if (lines.length === 0) return true
  for (const line of lines) {
    const seen = line.offset === undefined ? undefined : shown.get(line.offset)
    if (seen !== undefined && seen !== signature(line)) return true
  }
  return Math.max(...lines.map((l) => l.offset ?? 0)) < Math.max(...shown.keys())
}

function lineParts(line: Line): El[] {
  const time = element('time', clock(line.at), 'time')
  time.setAttribute('datetime', new Date(line.at).toISOString())
  const text = element('span', line.text, 'text')
  if (line.me) return [time, element('span', `* ${line.from}`, 'from'), text]
  return [time, element('span', `${line.from}:`, 'from'), text]
}

function clock(at: number): string {
  return new Date(at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
}
