// The scripts `wirekit serve` hands to browsers: the wirekit client, the chat page and the dashboard.
// `npm run build` writes them to dist/browser/ (scripts/build-browser.ts); a checkout that was not built
// bundles the TypeScript source once, in memory, with esbuild (a dev dependency).
import { existsSync, readFileSync } from 'node:fs'

/** Each browser script and its entry, relative to src/. */
export const BROWSER_ENTRIES = {
  client: 'messaging/client-entry.ts',
  chat: 'web/chat/app.ts',
  dashboard: 'web/dashboard/app.ts',
} as const

export type BrowserScript = keyof typeof BROWSER_ENTRIES

const cache = new Map<BrowserScript, Promise<string>>()

/** dist/browser/NAME.js when built, else bundled now from the source. Rejects with a sentence saying what to run. */
export function browserScript(name: BrowserScript): Promise<string> {
  let script = cache.get(name)
  if (script === undefined) {
    script = load(name)
    // A failure is not kept: a build may land meanwhile.
    script.catch(() => cache.delete(name))
    cache.set(name, script)
  }
  return script
}

async function load(name: BrowserScript): Promise<string> {
  // From dist/web/bundle.js (installed) or src/web/bundle.ts (a checkout).
  for (const candidate of [`../browser/${name}.js`, `../../dist/browser/${name}.js`]) {
    const built = new URL(candidate, import.meta.url)
    if (built.pathname.includes('/dist/browser/') && existsSync(built)) return readFileSync(built, 'utf8')
  }
  const entry = new URL(`../${BROWSER_ENTRIES[name]}`, import.meta.url).pathname
  const esbuild = await import('esbuild').catch(() => undefined)
  if (esbuild === undefined || !existsSync(entry)) {
    throw new Error(`the browser script is not built: run \`npm run build\` (writes dist/browser/${name}.js)`)
  }
  const result = await esbuild.build({ ...BUILD_OPTIONS, entryPoints: [entry], write: false })
  return result.outputFiles![0]!.text
}

/** What every browser script is built with (here and by scripts/build-browser.ts). */
export const BUILD_OPTIONS = {
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  legalComments: 'none',
} as const
