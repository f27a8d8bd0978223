// The helper-process side of the IPC channel: report to the benchmark, wait for its word, and
// never outlive it (a helper exits as soon as its parent disconnects or dies).
import type { IpcMessage } from './harness.ts'

/** Sends a message to the benchmark process. */
export function toParent(msg: IpcMessage): void {
  process.send?.(msg)
}

/** Resolves with the next message of `type` from the benchmark process. */
export function fromParent<T extends IpcMessage>(type: string): Promise<T> {
  return new Promise((resolve) => {
    const onMessage = (msg: IpcMessage): void => {
      if (msg.type !== type) return
      process.off('message', onMessage)
      resolve(msg as T)
    }
    process.on('message', onMessage)
  })
}

/** Calls `handler` for every message of `type` until the process exits. */
export function onParent<T extends IpcMessage>(type: string, handler: (msg: T) => void): void {
  process.on('message', (msg: IpcMessage) => {
    if (msg.type === type) handler(msg as T)
  })
}

/**
 * Runs a helper's main function: a failure is reported as `{ type: 'error' }` and ends the
 * process; losing the parent ends it too, so no helper is ever left behind holding sockets.
 */
export function runChild(main: () => Promise<void>): void {
  if (!process.send) {
    process.stderr.write('this helper is started by a benchmark in bench/, not by hand\n')
    process.exit(1)
  }
  process.on('disconnect', () => process.exit(0))
  main().catch((err: unknown) => {
    const message = err instanceof Error ? err.message : String(err)
    toParent({ type: 'error', message })
    process.stderr.write(`bench helper failed: ${err instanceof Error ? err.stack : message}\n`)
    setTimeout(() => process.exit(1), 100)
  })
}

/** Positional argument `index` after the script name, or a failure naming what is missing. */
export function arg(index: number, name: string): string {
  const value = process.argv[2 + index]
  if (value === undefined) throw new Error(`missing argument <${name}>`)
  return value
}
