// The browser client bundle that `wirekit serve --http` hands to pages at /wirekit-client.js: the file
// `npm run build` writes (dist/browser/client.js), read once.
import { existsSync, readFileSync } from 'node:fs'

let script: string | undefined

/** dist/browser/client.js, from src/web (a checkout) or dist/web (an installed package); throws if unbuilt. */
export function clientScript(): string {
  if (script !== undefined) return script
  for (const candidate of ['../browser/client.js', '../../dist/browser/client.js']) {
    const built = new URL(candidate, import.meta.url)
    if (built.pathname.includes('/dist/browser/') && existsSync(built)) {
      script = readFileSync(built, 'utf8')
      return script
    }
  }
  throw new Error('the browser client is not built: run `npm run build` (writes dist/browser/client.js)')
}
