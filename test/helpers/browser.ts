// Launches Debian's Chromium (/usr/bin/chromium, never a downloaded browser) through playwright-core,
// with the flags a root container needs, and builds the browser bundle the pages load.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { type Browser, chromium } from 'playwright-core'

export const CHROMIUM = '/usr/bin/chromium'

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}

/** Builds dist/browser/client.js (scripts/build-browser.ts) and returns its text. */
export function browserBundle(): string {
  execFileSync(process.execPath, ['scripts/build-browser.ts'], { stdio: 'ignore' })
  return readFileSync('dist/browser/client.js', 'utf8')
}
