// Shared plumbing for the messaging benchmarks: command-line flags, child processes with an IPC
// channel and a hard deadline, and a monotonic clock that is comparable across processes.
// Nothing here measures anything by itself; format.ts turns figures into Markdown.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

/** True when the benchmark was started with `--quick` (a short run for CI and smoke checks). */
export const quick = process.argv.includes('--quick')

/** Value of a `--flag value` pair on the command line, if present. */
export function flagValue(flag: string): string | undefined {
  const i = process.argv.indexOf(flag)
  return i >= 0 ? process.argv[i + 1] : undefined
}

/** `--only <text>` runs just the cases whose name contains the text (for investigating one peer). */
export function selected(name: string): boolean {
  const only = flagValue('--only')
  return only === undefined || name.includes(only)
}

/** Monotonic nanoseconds as a number. Linux `CLOCK_MONOTONIC` is system-wide, so two processes on
 * this machine can subtract each other's readings (the broadcast benchmark does). */
export function nowNs(): number {
  return Number(process.hrtime.bigint())
}

/** Absolute path of a helper script in bench/peers/. */
export function peerScript(name: string): string {
  return fileURLToPath(new URL(`./${name}`, import.meta.url))
}

/** A message on the IPC channel between a benchmark and its helper processes. */
export type IpcMessage = { type: string; [key: string]: unknown }

/** The file-descriptor limits of this shell: a child can raise its soft limit up to `hard`. */
export function fdLimits(): { soft: number; hard: number } {
  const read = (flag: string): number => {
    const out = execFileSync('sh', ['-c', `ulimit ${flag}`], { encoding: 'utf8' }).trim()
    return out === 'unlimited' ? Number.POSITIVE_INFINITY : Number(out)
  }
  return { soft: read('-Sn'), hard: read('-Hn') }
}

const children = new Set<ChildProcess>()

/**
 * Starts `bench/peers/<script>` under this Node (process.execPath, so the pinned Node 24) with an
 * IPC channel. Started through `sh -c` that raises the descriptor limit to the hard limit first:
 * 10k connections need 10k descriptors in one process (Node does the same at start-up, but saying
 * it here keeps it true whatever the runtime). stderr is inherited (where helpers complain); results
 * travel over IPC, never stdout, so the Markdown stays clean.
 */
export function startPeer(script: string, args: string[], nodeFlags: string[] = []): ChildProcess {
  const cmd = 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"'
  const child = spawn('sh', ['-c', cmd, 'sh', process.execPath, ...nodeFlags, peerScript(script), ...args], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  })
  children.add(child)
  child.once('exit', () => children.delete(child))
  return child
}

/** Kills every helper still running (SIGKILL: a helper stuck in a busy loop must not outlive us). */
export function killPeers(): void {
  for (const child of children) child.kill('SIGKILL')
  children.clear()
}

/** Kills one helper and waits until it is gone, so its sockets are closed before the next round. */
export async function stopPeer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill('SIGKILL')
  await exited
}

/**
 * Resolves with the next IPC message of `type` from `child`; rejects if the child exits first or
 * nothing arrives within `ms`. A helper that reports `{ type: 'error' }` rejects it at once.
 * Attach to it before telling the helper to act, or the answer may come first.
 */
export function nextMessage<T extends IpcMessage>(child: ChildProcess, type: string, ms: number): Promise<T> {
  const next = new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`no '${type}' from helper within ${ms} ms`)), ms)
    function onMessage(msg: IpcMessage): void {
      if (msg.type === type) finish(undefined, msg as T)
      else if (msg.type === 'error') finish(new Error(`helper failed: ${String(msg.message)}`))
    }
    function onExit(code: number | null, signal: string | null): void {
      finish(new Error(`helper exited (${signal ?? code}) before '${type}'`))
    }
    function finish(err: Error | undefined, msg?: T): void {
      clearTimeout(timer)
      child.off('message', onMessage)
      child.off('exit', onExit)
      if (err) reject(err)
      else resolve(msg!)
    }
    child.on('message', onMessage)
    child.on('exit', onExit)
  })
  // Often raced against a watchdog: losing the race must not become an unhandled rejection.
  next.catch(() => {})
  return next
}

/** The reason a watched case ran out of time (as opposed to a helper that failed). */
export class CaseTimeout extends Error {}

/**
 * Watches a helper during one measured case: `failed` rejects when the helper exits or reports an
 * error, or with a CaseTimeout after `ms`. Always `cancel()` it when the case ends.
 */
export function watchPeer(child: ChildProcess, ms: number): { failed: Promise<never>; cancel: () => void } {
  let cancel = (): void => {}
  const failed = new Promise<never>((_, reject) => {
    const timer = setTimeout(() => reject(new CaseTimeout(`case cut after ${ms} ms`)), ms)
    const onMessage = (msg: IpcMessage): void => {
      if (msg.type === 'error') reject(new Error(`helper failed: ${String(msg.message)}`))
    }
    const onExit = (code: number | null, signal: string | null): void =>
      reject(new Error(`helper exited early (${signal ?? code})`))
    child.on('message', onMessage)
    child.once('exit', onExit)
    cancel = () => {
      clearTimeout(timer)
      child.off('message', onMessage)
      child.off('exit', onExit)
    }
  })
  failed.catch(() => {})
  return { failed, cancel }
}

/** Sends `msg` to a helper (a no-op if its channel is already gone). */
export function tell(child: ChildProcess, msg: IpcMessage): void {
  if (child.connected) child.send(msg)
}

/**
 * The hard deadline of a whole benchmark: when it fires, helpers are killed, `report()` prints what
 * was measured so far (marked incomplete) and the process exits. Unref'd, so a benchmark that ends
 * on time exits by itself without waiting for it.
 */
export function hardDeadline(defaultMs: number, report: (reason: string) => void): void {
  // `--deadline <seconds>` shortens (or lengthens) it, e.g. to check that a run stops cleanly.
  const override = Number(flagValue('--deadline'))
  const ms = override > 0 ? override * 1000 : defaultMs
  const timer = setTimeout(() => {
    killPeers()
    report(`stopped by the ${Math.round(ms / 1000)} s hard deadline`)
    process.exit(2)
  }, ms)
  timer.unref()
  process.once('exit', killPeers)
}

/** `--repeat N`: how many times each throughput case runs (default: 3, or 1 with --quick). */
export function repeatCount(): number {
  const n = Number(flagValue('--repeat'))
  return n >= 1 ? Math.floor(n) : quick ? 1 : 3
}

/**
 * Runs every case `repeat` times, round-robin, so a change in machine load hits every peer alike
 * rather than the one that happened to run then. Each result lands in `runs` under its case's name;
 * failures are collected once per distinct message.
 */
export async function runRounds<C extends { name: string }, R>(
  cases: C[],
  repeat: number,
  run: (c: C) => Promise<R>,
  runs: Map<string, R[]>,
  failures: string[],
): Promise<void> {
  for (let round = 0; round < repeat; round++) {
    for (const c of cases) {
      const result = await attempt(c.name, () => run(c))
      if (result instanceof Error) {
        const line = `${c.name}: ${result.message}`
        if (!failures.includes(line)) failures.push(line)
      } else {
        const list = runs.get(c.name) ?? []
        list.push(result)
        runs.set(c.name, list)
      }
    }
  }
}

/** Runs one measured case; a failure becomes a row note instead of ending the benchmark. */
export async function attempt<T>(name: string, fn: () => Promise<T>): Promise<T | Error> {
  try {
    return await fn()
  } catch (err) {
    const error = err instanceof Error ? err : new Error(String(err))
    process.stderr.write(`bench: ${name} failed: ${error.stack ?? error.message}\n`)
    return error
  }
}
