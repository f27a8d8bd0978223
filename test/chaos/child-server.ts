// Starts fixtures/message-server.ts in a child process (the pinned Node, process.execPath) and talks to
// it over IPC: wait for a report, send a command, SIGKILL it.
import { type ChildProcess, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { FixtureCommand, FixtureConfig, FixtureReport } from './fixtures/message-server.ts'

const FIXTURE = fileURLToPath(new URL('./fixtures/message-server.ts', import.meta.url))

export type ChildServer = {
  port: number
  child: ChildProcess
  /** The next report of `type` (reports that arrived earlier and were not taken are kept, in order). */
  next<T extends FixtureReport['type']>(type: T, ms?: number): Promise<Extract<FixtureReport, { type: T }>>
  command(command: FixtureCommand): void
  /** What the process printed (stdout and stderr, first 64 KiB), for failure messages. */
  output(): string
  /** SIGKILL, and wait for the process to be gone. */
  kill(): Promise<void>
}

export async function startChildServer(config: FixtureConfig = {}): Promise<ChildServer> {
  const child = fork(FIXTURE, [JSON.stringify(config)], {
    execPath: process.execPath,
    execArgv: [],
    // Never the test's own stdout: under `node --test` that stream carries the runner's reports.
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  })
  let output = ''
  const collect = (chunk: Buffer): void => {
    if (output.length < 64 * 1024) output += chunk.toString()
  }
  child.stdout?.on('data', collect)
  child.stderr?.on('data', collect)
  type Waiter = { type: string; resolve: (report: FixtureReport) => void; reject: (error: Error) => void }
  const backlog: FixtureReport[] = []
  const waiters: Waiter[] = []
  child.on('message', (report: FixtureReport) => {
    const index = waiters.findIndex((w) => w.type === report.type)
    if (index >= 0) waiters.splice(index, 1)[0]!.resolve(report)
    else backlog.push(report)
  })
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      for (const waiter of waiters.splice(0)) waiter.reject(new Error('the server process exited'))
      resolve()
    }),
  )
  const server: ChildServer = {
    port: 0,
    child,
    next(type, ms = 15_000) {
      const index = backlog.findIndex((r) => r.type === type)
      if (index >= 0) return Promise.resolve(backlog.splice(index, 1)[0] as never)
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1)
          reject(new Error(`No '${type}' report from the server process within ${ms} ms`))
        }, ms)
        const waiter: Waiter = {
          type,
          resolve: (report) => {
            clearTimeout(timer)
            resolve(report as never)
          },
          reject: (error) => {
            clearTimeout(timer)
            reject(error)
          },
        }
        waiters.push(waiter)
      })
    },
    output: () => output,
    command(command) {
      if (child.connected) child.send(command)
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await exited
    },
  }
  server.port = (await server.next('listening')).port
  return server
}
