// Chromium for bench/browser-messaging.ts, with no DevTools session (DevTools reports every WebSocket
// frame, which would be measured too): Debian's Chromium started directly on the benchmark's page, the
// pilot that hands that page its steps over plain HTTP (POST /next), and the CPU time of all Chromium's
// processes, read from /proc.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import type http from 'node:http'
import os from 'node:os'
import { join } from 'node:path'
import { CHROMIUM, CHROMIUM_FLAGS } from '../../test/helpers/browser.ts'

/** A step that overran: the page is in an unknown state, so the run stops there. */
export class StepTimeout extends Error {}

/** `promise`, or a StepTimeout after `ms`. */
export function withLimit<T>(promise: Promise<T>, what: string, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StepTimeout(`${what}: cut after ${ms} ms`)), ms)
  })
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer))
}

type Report = { ok?: Record<string, unknown>; error?: string; type?: string; userAgent?: string }

/**
 * The page asks for its next step with POST /next, carrying what the previous step returned (its first
 * request says hello with the browser's user agent). `step()` answers that pending request.
 */
export class PagePilot<Step extends { type: string }> {
  /** Resolves with the page's user agent once it has loaded and asked for its first step. */
  readonly hello: Promise<string>
  #stepMs: number
  #respond: ((step: Step) => void) | undefined
  #onRespond: (() => void) | undefined
  #onReport: ((report: Report) => void) | undefined
  #helloed: (userAgent: string) => void = () => {}

  constructor(stepMs: number) {
    this.#stepMs = stepMs
    this.hello = new Promise((resolve) => (this.#helloed = resolve))
  }

  /** Takes POST /next; false for any other request. */
  handle(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    if (req.url !== '/next' || req.method !== 'POST') return false
    let body = ''
    req.setEncoding('utf8').on('data', (text: string) => (body += text))
    req.on('end', () => {
      const report = JSON.parse(body) as Report
      this.#respond = (step) => {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify(step))
      }
      if (report.type === 'hello') this.#helloed(report.userAgent ?? '')
      const reported = this.#onReport
      this.#onReport = undefined
      reported?.(report)
      const waiting = this.#onRespond
      this.#onRespond = undefined
      waiting?.()
    })
    return true
  }

  /** Hands the page one step and resolves with what the step returned in the page. */
  async step(s: Step): Promise<Record<string, unknown>> {
    while (this.#respond === undefined)
      await withLimit(new Promise<void>((resolve) => (this.#onRespond = resolve)), 'page', this.#stepMs)
    const reply = new Promise<Report>((resolve) => (this.#onReport = resolve))
    const send = this.#respond
    this.#respond = undefined
    send(s)
    const report = await withLimit(reply, s.type, this.#stepMs)
    if (report.error !== undefined) throw new Error(report.error)
    return report.ok ?? {}
  }

  /** The last step: the page stops asking after it, so nothing is awaited. */
  finish(last: Step): void {
    this.#respond?.(last)
    this.#respond = undefined
  }
}

/** Kernel clock ticks per second, the unit of CPU times in /proc/<pid>/stat. */
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100

export type RunningChromium = {
  /** CPU time, in ms, of Chromium's whole process group: browser, renderer, network service… */
  cpuMs(): number
  /** Kills the process group and removes the throwaway profile; safe to call more than once. */
  stop(): void
}

/** Starts Chromium on `url` in its own process group with a throwaway profile. */
export function startChromium(url: string): RunningChromium {
  const profile = mkdtempSync(join(os.tmpdir(), 'wirekit-bench-chromium-'))
  // The flags test/helpers/browser.ts gives playwright, for a root container.
  const chromium: ChildProcess = spawn(CHROMIUM, [...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, url], {
    stdio: 'ignore',
    detached: true,
  })
  const pgid = chromium.pid
  return {
    cpuMs() {
      let ticks = 0
      if (pgid === undefined) return 0
      for (const entry of readdirSync('/proc')) {
        if (!/^\d+$/.test(entry)) continue
        let stat: string
        try {
          stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
        } catch {
          continue // gone meanwhile
        }
        // Fields after the command name (which may hold spaces): state ppid pgrp … utime(14) stime(15).
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
        if (Number(fields[2]) === pgid) ticks += Number(fields[11]) + Number(fields[12])
      }
      return (ticks * 1000) / CLOCK_TICKS
    },
    stop() {
      // Its own process group: the renderer and utility processes go with it.
      if (pgid !== undefined && chromium.exitCode === null) {
        try {
          process.kill(-pgid, 'SIGKILL')
        } catch {}
      }
      rmSync(profile, { recursive: true, force: true })
    },
  }
}
