#!/usr/bin/env node
// The `wirekit` command. In a checkout, on a Node that strips types (>= 22.18; the project pins Node 24),
// it runs the TypeScript sources directly; otherwise (installed under node_modules, where Node does not
// strip types, or an older Node) it runs the built dist/ (`npm run build`, done by `npm install`).
import { existsSync } from 'node:fs'

const major = Number(process.versions.node.split('.')[0])
if (major < 22) {
  process.stderr.write(
    `wirekit: needs Node >= 22, this is Node ${process.versions.node}. ` +
      'In a checkout, `npx wirekit` runs the Node 24 the project pins.\n',
  )
  process.exit(1)
}

const source = new URL('../src/cli/main.ts', import.meta.url)
const canRunSource =
  Boolean(process.features.typescript) && !import.meta.url.includes('/node_modules/') && existsSync(source)
const entry = canRunSource ? source : new URL('../dist/cli/main.js', import.meta.url)
const { main } = await import(entry.href)
await main(process.argv)
