// Delayed acks: a session with only an ack to write (a client that received a lone message) may hold
// it back a little, so a broadcast to thousands of clients in one process is not answered by
// thousands of ack writes while it is still arriving. The session decides when; this module keeps time.

/** What the timer calls back. */
export interface AckHolder {
  ackTimerFired(): void
}

// Sessions holding back a standalone ack (see `ackDelay`), under one shared timer. While this process
// keeps reading (a broadcast to many clients still arriving), the timer waits another round, up to
// MAX_ACK_DELAY_MS: the acks then follow the burst instead of competing with it. The cap is longer
// than a burst to 10k clients takes here (~150 ms): with 200 ms, a slower round crossed it, its 10k
// ack writes landed in the middle of the burst and doubled it (broadcast rounds of 140 ms and
// 300-430 ms alternating; with 1 s, 137-222 ms). Only lone messages wait: a session holding 16
// messages or 64 KiB acks at once (see DELAYED_ACK_MESSAGES in session.ts).
let delayedAcks: AckHolder[] = []
let delayedAckTimer: NodeJS.Timeout | undefined
let delayedSince = 0
let readsSinceTimer = 0
const MAX_ACK_DELAY_MS = 1000

/** Holds `session`'s ack for about `delay` ms (see above), then calls its ackTimerFired(). */
export function delayAck(session: AckHolder, delay: number): void {
  delayedAcks.push(session)
  if (delayedAckTimer !== undefined) return
  delayedSince = Date.now()
  readsSinceTimer = 0
  armAckTimer(delay)
}

/** A chunk was read somewhere in this process: a pending delayed ack waits another round. */
export function noteRead(): void {
  if (delayedAckTimer !== undefined) readsSinceTimer++
}

function armAckTimer(delay: number): void {
  delayedAckTimer = setTimeout(() => {
    delayedAckTimer = undefined
    if (readsSinceTimer > 0 && Date.now() - delayedSince + delay <= MAX_ACK_DELAY_MS) {
      readsSinceTimer = 0
      armAckTimer(delay)
      return
    }
    const list = delayedAcks
    delayedAcks = []
    for (const s of list) s.ackTimerFired()
  }, delay)
  // Sockets keep the process alive, not a pending ack.
  delayedAckTimer.unref()
}
