// Decides, frame by frame, what a player gets when it cannot keep up. A player whose unsent bytes
// pass its cap stops receiving media and resumes at the next keyframe once it is back under the cap:
// it sees a jump, never a broken picture, and the server never holds more than the cap for it.
// Metadata and sequence headers always go through (a decoder needs them and they are small).
import type { LiveStream } from './live-stream.ts'
import type { MediaBatch, MediaItem } from './media-item.ts'

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

/** The items of `batch` a player with `pending` unsent bytes takes (what it takes counts as pending). */
export function admit(
  gate: PlayerGate,
  batch: MediaBatch,
  pending: number,
  options: { playerBufferBytes: number },
  live: LiveStream,
  encode: (item: MediaItem) => Buffer,
): MediaItem[] {
  const admitted: MediaItem[] = []
  for (const item of batch.items) {
    if (gate.admit(item, pending, options.playerBufferBytes, live.hasVideo)) {
      admitted.push(item)
      pending += encode(item).length
    }
  }
  return admitted
}
