// Writes the browser bundle dist/browser/client.js (ESM, self-contained, minified) from the browser-safe
// entry src/messaging/client-entry.ts. Fails if anything in that graph reaches for node: modules.
import { build } from 'esbuild'

const result = await build({
  entryPoints: ['src/messaging/client-entry.ts'],
  outfile: 'dist/browser/client.js',
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022'],
  minify: true,
  sourcemap: true,
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
})
const inputs = Object.keys(result.metafile.inputs)
const nodeOnly = inputs.filter((path) => path.startsWith('node:') || path.includes('/socket/'))
if (nodeOnly.length > 0) throw new Error(`The browser bundle reaches Node-only code: ${nodeOnly.join(', ')}`)
const bytes = result.metafile.outputs['dist/browser/client.js']?.bytes ?? 0
console.log(`dist/browser/client.js: ${bytes} bytes minified, ${inputs.length} modules`)
