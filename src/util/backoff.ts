// Exponential backoff with jitter: the one helper used by reconnects, HTTP retries and reachability probes.

export type BackoffOptions = {
  /** Delay before the first retry, in ms. @default 100 */
  initialDelay?: number
  /** Upper bound of any delay, in ms. @default 30_000 */
  maxDelay?: number
  /** Growth per attempt. @default 2 */
  factor?: number
  /** Fraction of the delay randomised, 0..1 ("equal jitter" around the nominal delay). @default 0.5 */
  jitter?: number
}

/**
 * The delay before retry number `attempt` (0-based).
 * @example backoffDelay(3, { initialDelay: 100 }) // ≈ 800 ms ± jitter
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = {},
  random: () => number = Math.random,
): number {
  const initial = options.initialDelay ?? 100
  const max = options.maxDelay ?? 30_000
  const factor = options.factor ?? 2
  const jitter = Math.min(Math.max(options.jitter ?? 0.5, 0), 1)
  const nominal = Math.min(max, initial * factor ** attempt)
  // Spread the delay over [nominal·(1−jitter), nominal]: never longer than maxDelay, never zero unless jitter is 1.
  return Math.round(nominal * (1 - jitter * random()))
}
