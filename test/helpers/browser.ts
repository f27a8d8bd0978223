// Launches Debian's Chromium (/usr/bin/chromium, never a downloaded browser) through playwright-core,
// with the flags a root container needs, and builds the browser bundle the pages load.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { type Browser, chromium } from 'playwright-core'

export const CHROMIUM = '/usr/bin/chromium'
/** Headless, as root in a container, and quiet: without the background-networking flags Chromium keeps
 * dialling Google's hosts, which this machine's closed network refuses. */
export const CHROMIUM_FLAGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [...CHROMIUM_FLAGS],
  })
}

/** Builds dist/browser/ (client.js, chat.js, dashboard.js: scripts/build-browser.ts); returns client.js. */
export function browserBundle(): string {
  execFileSync(process.execPath, ['scripts/build-browser.ts'], { stdio: 'ignore' })
  return readFileSync('dist/browser/client.js', 'utf8')
}

/** How many distinct colours a PNG has (sampled), decoded by Chromium in a blank page: > 20 is not blank. */
export async function pngColours(browser: Browser, png: Buffer): Promise<number> {
  const blank = await browser.newPage()
  try {
    return (await blank.evaluate(`(async () => {
      const bitmap = await createImageBitmap(await (await fetch('data:image/png;base64,${png.toString('base64')}')).blob())
      const canvas = new OffscreenCanvas(bitmap.width, bitmap.height)
      const ctx = canvas.getContext('2d')
      ctx.drawImage(bitmap, 0, 0)
      const data = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data
      const seen = new Set()
      for (let i = 0; i < data.length; i += 4 * 7) seen.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2])
      return seen.size
    })()`)) as number
  } finally {
    await blank.close()
  }
}
