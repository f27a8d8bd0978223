// Debian's Chromium for tests that freeze a page with DevTools' Page.setWebLifecycleState. playwright's
// own launch turns focus emulation on for every page, and a page under focus emulation stays visible
// and is never frozen (measured: `frozen` answered {} while the page's timers and WebSocket handlers kept
// running). So Chromium is started here with a DevTools port and attached with
// connectOverCDP({ noDefaults: true }), whose default context has no focus emulation.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { type Browser, type BrowserContext, chromium } from 'playwright-core'
import { CHROMIUM, CHROMIUM_FLAGS } from '../helpers/browser.ts'

export type FreezableChromium = { browser: Browser; context: BrowserContext; close(): Promise<void> }

export async function launchFreezableChromium(): Promise<FreezableChromium> {
  const profile = mkdtempSync(join(os.tmpdir(), 'wirekit-freeze-'))
  // detached: Chromium and its helper processes form one process group, ended together in close().
  const proc: ChildProcess = spawn(
    CHROMIUM,
    [...CHROMIUM_FLAGS, '--remote-debugging-port=0', `--user-data-dir=${profile}`, 'about:blank'],
    { stdio: ['ignore', 'ignore', 'pipe'], detached: true },
  )
  const kill = () => {
    try {
      if (proc.pid !== undefined && proc.exitCode === null) process.kill(-proc.pid, 'SIGKILL')
    } catch {}
    rmSync(profile, { recursive: true, force: true })
  }
  try {
    const endpoint = await new Promise<string>((resolve, reject) => {
      let text = ''
      const timer = setTimeout(
        () => reject(new Error('Chromium printed no DevTools endpoint in 30 s')),
        30_000,
      )
      proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
        text += chunk
        const found = /DevTools listening on (ws:\/\/\S+)/.exec(text)
        if (found) {
          clearTimeout(timer)
          resolve(found[1]!)
        }
      })
      proc.once('exit', (code) => reject(new Error(`Chromium exited (${code}) before listening`)))
    })
    const browser = await chromium.connectOverCDP(endpoint, { noDefaults: true })
    const context = browser.contexts()[0]!
    return {
      browser,
      context,
      async close() {
        await browser.close().catch(() => {})
        kill()
      },
    }
  } catch (error) {
    kill()
    throw error
  }
}
