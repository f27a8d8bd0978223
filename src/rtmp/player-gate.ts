// Decides, frame by frame, what a player gets when it cannot keep up. A player whose unsent bytes
// pass its cap stops receiving media and resumes at the next keyframe once it is back under the cap:
// it sees a jump, never a broken picture, and the server never holds more than the cap for it.
// Metadata and sequence headers always go through (a decoder needs them and they are small).
import { batchBytes, type Encoding, type MediaBatch, type MediaItem } from './media-item.ts'

export class PlayerGate {
  /** Waiting for a keyframe: at the start (no GOP sent yet) and after skipping. */
  waiting = true
  /** Frames not sent because the player was behind. */
  skipped = 0
  /** Times the player fell behind its cap. */
  stalls = 0

  /** Whether to send `item` to a player with `pending` unsent bytes and a cap of `cap`. */
  admit(item: MediaItem, pending: number, cap: number, hasVideo: boolean): boolean {
    if (item.config) return true
    if (this.waiting) {
      const ready = hasVideo ? item.keyframe && pending <= cap : pending <= cap / 2
      if (!ready) {
        this.skipped++
        return false
      }
      this.waiting = false
      return true
    }
    if (pending > cap) {
      this.waiting = true
      this.stalls++
      this.skipped++
      return false
    }
    return true
  }
}

/**
 * What a player with `pending` unsent bytes takes of `batch`, as one buffer (undefined: nothing).
 * A player keeping up takes the whole batch: the buffer every such player shares, no allocation.
 */
export function take(
  gate: PlayerGate,
  batch: MediaBatch,
  pending: number,
  cap: number,
  hasVideo: boolean,
  encoding: Encoding,
): Buffer | undefined {
  if (!gate.waiting) {
    const whole = batchBytes(batch, encoding)
    // Under the cap with all of it, so the gate would admit every item: no need to ask item by item.
    if (pending + whole.length <= cap) return whole
  }
  const admitted: MediaItem[] = []
  for (const item of batch.items) {
    if (gate.admit(item, pending, cap, hasVideo)) {
      admitted.push(item)
      pending += encoding.encode(item).length
    }
  }
  if (admitted.length === 0) return undefined
  if (admitted.length === batch.items.length) return batchBytes(batch, encoding)
  return admitted.length === 1 ? encoding.encode(admitted[0]!) : Buffer.concat(admitted.map(encoding.encode))
}
