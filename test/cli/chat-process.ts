// Test helper: `wirekit` CLI processes driven over pipes (stdin written line by line, stdout read as it
// comes), and chat servers started in this process on 127.0.0.1 port 0.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { once } from 'node:events'
import { serve } from '../../src/cli/serve.ts'
import { MessageClient, type MessageServer } from '../../src/messaging/index.ts'

const bin = new URL('../../bin/wirekit.js', import.meta.url).pathname

export type CliProcess = {
  child: ChildProcessWithoutNullStreams
  /** Everything printed so far on stdout (and stderr, in `err`). */
  readonly out: string
  readonly err: string
  /** Resolves with the match once stdout (+ stderr) matches, or rejects after `ms`. */
  until(re: RegExp, ms?: number): Promise<RegExpExecArray>
  line(text: string): void
  exited: Promise<number | null>
}

export function wirekit(args: string[]): CliProcess {
  const child = spawn(process.execPath, [bin, ...args], { stdio: 'pipe' })
  let out = ''
  let err = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d))
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d))
  child.stdin.on('error', () => {})
  const exited = once(child, 'exit').then(([code]) => code as number | null)
  return {
    child,
    get out() {
      return out
    },
    get err() {
      return err
    },
    async until(re, ms = 15_000) {
      const deadline = Date.now() + ms
      for (;;) {
        const match = re.exec(out + err)
        if (match) return match
        if (Date.now() > deadline || child.exitCode !== null)
          throw new Error(
            `no ${re} within ${ms} ms; stdout: ${JSON.stringify(out)} stderr: ${JSON.stringify(err)}`,
          )
        await new Promise((r) => setTimeout(r, 20))
      }
    },
    line(text) {
      child.stdin.write(`${text}\n`)
    },
    exited,
  }
}

/** A chat client named `name` (token `<name>-token`) on tcp://127.0.0.1:port that does not reconnect. */
export function chatClient(port: number, name: string): Promise<MessageClient> {
  return MessageClient.connect(`tcp://127.0.0.1:${port}`, {
    credentials: { name, token: `${name}-token` },
    reconnect: { maxAttempts: 0 },
  })
}

/** SIGKILLs every process of `processes` still running and waits for each to exit (for after()). */
export async function killAll(processes: CliProcess[]): Promise<void> {
  for (const p of processes) {
    if (p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill('SIGKILL')
      await p.exited
    }
  }
}

/** Runs `wirekit args` to the end; resolves with its exit code and output. */
export async function run(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const p = wirekit(args)
  p.child.stdin.end()
  const code = await p.exited
  return { code, out: p.out, err: p.err }
}

/** A chat server on 127.0.0.1 (port 0 unless given), with a short heartbeat; logs collected. */
export async function chatServerFor(
  options: { port?: number; heartbeatInterval?: number; heartbeatTimeout?: number } = {},
): Promise<{ server: MessageServer; url: string; port: number; logs: string[] }> {
  const logs: string[] = []
  const server = await serve({
    host: '127.0.0.1',
    port: options.port ?? 0,
    heartbeatInterval: options.heartbeatInterval ?? 1000,
    heartbeatTimeout: options.heartbeatTimeout ?? 1000,
    signal: AbortSignal.abort(),
    log: (l) => logs.push(l),
  })
  const address = server.addresses[0]!
  const port = 'port' in address ? address.port : 0
  return { server, url: `tcp://127.0.0.1:${port}`, port, logs }
}
