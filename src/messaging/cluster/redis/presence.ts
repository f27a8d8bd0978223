// Presence across nodes without writing anything per join: a question on the control channel
// ("who is in room X?"), one answer per node on the asker's own channel. Publishing returns how many
// nodes heard the question, so the asker knows how many answers to wait for.

import { randomBytes } from 'node:crypto'
import { ErrorCodes, TimeoutError } from '../../../errors.ts'
import type { PeerInfo } from '../adapter.ts'

// A session somewhere in the cluster: the adapter interface's shape (MemoryAdapter answers the same way).
export type { PeerInfo }

export type Question = { t: 'who'; q: string; room: string | null; from: string }
/** Each peer as [id, connected] or [id, connected, identity] (identity left out when undefined or not JSON). */
export type Answer = {
  t: 'here'
  q: string
  node: string
  peers: ([string, boolean] | [string, boolean, unknown])[]
}

type Waiting = {
  expected: number
  answers: number
  peers: PeerInfo[]
  resolve: (peers: PeerInfo[]) => void
  reject: (error: Error) => void
  timer: NodeJS.Timeout
}

const MAX_OPEN_QUESTIONS = 1000

export class Presence {
  #waiting = new Map<string, Waiting>()
  #node: string

  constructor(node: string) {
    this.#node = node
  }

  /** Asks every node; `publish` returns how many nodes received the question. */
  async ask(
    room: string | undefined,
    timeout: number,
    publish: (question: string) => Promise<number>,
  ): Promise<PeerInfo[]> {
    if (this.#waiting.size >= MAX_OPEN_QUESTIONS) {
      throw new TimeoutError(ErrorCodes.REQUEST_TIMEOUT, 'Too many presence questions in flight')
    }
    const q = randomBytes(8).toString('hex')
    const question: Question = { t: 'who', q, room: room ?? null, from: this.#node }
    const result = new Promise<PeerInfo[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        const waiting = this.#waiting.get(q)
        this.#waiting.delete(q)
        reject(
          new TimeoutError(
            ErrorCodes.REQUEST_TIMEOUT,
            `Presence: ${waiting?.answers ?? 0} of ${waiting?.expected ?? '?'} nodes answered within ${timeout} ms`,
          ),
        )
      }, timeout)
      this.#waiting.set(q, {
        expected: Number.POSITIVE_INFINITY,
        answers: 0,
        peers: [],
        resolve,
        reject,
        timer,
      })
    })
    try {
      const receivers = await publish(JSON.stringify(question))
      const waiting = this.#waiting.get(q)
      if (waiting !== undefined) {
        waiting.expected = receivers
        this.#settle(q, waiting)
      }
    } catch (error) {
      const waiting = this.#waiting.get(q)
      this.#waiting.delete(q)
      if (waiting !== undefined) {
        clearTimeout(waiting.timer)
        waiting.reject(error as Error)
      }
    }
    return result
  }

  /** A question from some node: returns the answer to publish on `from`'s channel. */
  answer(
    question: Question,
    peers: Iterable<{ id: string; connected?: boolean; identity?: unknown }>,
  ): { to: string; answer: string } {
    const list: Answer['peers'] = []
    for (const peer of peers) {
      const identity = jsonOrUndefined(peer.identity)
      const connected = peer.connected ?? true
      list.push(identity === undefined ? [peer.id, connected] : [peer.id, connected, identity])
    }
    const answer: Answer = { t: 'here', q: question.q, node: this.#node, peers: list }
    return { to: question.from, answer: JSON.stringify(answer) }
  }

  /** An answer to one of our questions. */
  received(answer: Answer): void {
    const waiting = this.#waiting.get(answer.q)
    if (waiting === undefined || !Array.isArray(answer.peers)) return
    for (const entry of answer.peers) {
      if (!Array.isArray(entry) || typeof entry[0] !== 'string') continue
      waiting.peers.push({
        id: entry[0],
        node: String(answer.node),
        connected: entry[1] === true,
        identity: entry.length > 2 ? entry[2] : undefined,
      })
    }
    waiting.answers++
    this.#settle(answer.q, waiting)
  }

  #settle(q: string, waiting: Waiting): void {
    if (waiting.answers < waiting.expected) return
    this.#waiting.delete(q)
    clearTimeout(waiting.timer)
    waiting.resolve(waiting.peers)
  }

  close(): void {
    for (const waiting of this.#waiting.values()) {
      clearTimeout(waiting.timer)
      waiting.reject(new TimeoutError(ErrorCodes.REQUEST_TIMEOUT, 'Presence: the adapter closed'))
    }
    this.#waiting.clear()
  }
}

export type ControlMessage = Question | Answer | { t: 'claimed'; id: string; node: string; by: string }

/** Parses a control message; undefined for anything malformed. */
export function parseControl(text: string): ControlMessage | undefined {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null) return undefined
  const m = value as Record<string, unknown>
  if (m.t === 'who' && typeof m.q === 'string' && typeof m.from === 'string') return m as Question
  if (m.t === 'here' && typeof m.q === 'string' && typeof m.node === 'string') return m as Answer
  if (m.t === 'claimed' && typeof m.id === 'string' && typeof m.node === 'string') return m as ControlMessage
  return undefined
}

/** `value` when JSON can carry it (cycles and BigInt cannot), else undefined: one odd identity must not spoil an answer. */
function jsonOrUndefined(value: unknown): unknown {
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') return undefined
  try {
    JSON.stringify(value)
    return value
  } catch {
    return undefined
  }
}
