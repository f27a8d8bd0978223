// Resource probes for the chaos and fuzz suites: a real garbage collection (without --expose-gc on the
// command line), heap after collection, and the process's active handles by type.
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

setFlagsFromString('--expose-gc')
const collect = runInNewContext('gc') as () => void

/** Runs full collections until the heap stops shrinking (bounded to a few rounds). */
export async function gc(): Promise<void> {
  for (let i = 0; i < 4; i++) {
    collect()
    // Let FinalizationRegistry callbacks and closed handles' callbacks run between collections.
    await new Promise((resolve) => setImmediate(resolve))
  }
}

/** Heap in use after a full collection, in bytes. */
export async function heapAfterGc(): Promise<number> {
  await gc()
  return process.memoryUsage().heapUsed
}

/** Active resources of the process by type ('TCPSocketWrap', 'Timeout', ...). */
export function activeResources(): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] ?? 0) + 1
  return counts
}

/** Types whose count grew from `before` to `after`, with the growth. */
export function grown(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [type, n] of Object.entries(after)) {
    const delta = n - (before[type] ?? 0)
    if (delta > 0) out[type] = delta
  }
  return out
}

export const MiB = 1024 * 1024
