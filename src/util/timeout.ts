// The one timeout helper: a cancellable timer that never keeps the process alive on its own.

/** Starts `fn` after `ms` ms unless cancelled; returns the cancel function. A non-positive or infinite `ms` never fires. */
export function startTimer(ms: number | undefined, fn: () => void): () => void {
  if (ms === undefined || !(ms > 0) || ms === Number.POSITIVE_INFINITY) return noop
  const timer = setTimeout(fn, ms)
  timer.unref?.()
  return () => clearTimeout(timer)
}

function noop(): void {}

/** Resolves after `ms` ms; rejects early with the signal's reason if it aborts. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const timer = setTimeout(done, ms)
    function done(): void {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }
    function onAbort(): void {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
