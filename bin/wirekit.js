#!/usr/bin/env node
// The `wirekit` command. Runs the built CLI when dist/ exists, else the TypeScript sources
// directly (Node >= 22.18 strips types; the project pins Node 24).
import { existsSync } from 'node:fs'

const built = new URL('../dist/cli/main.js', import.meta.url)
const { main } = await import(existsSync(built) ? built.href : new URL('../src/cli/main.ts', import.meta.url).href)
await main(process.argv)
