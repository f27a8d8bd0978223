// Writes the browser scripts to dist/browser/ (ESM, self-contained, minified): the wirekit client
// (`@wirekit/core/client`, from src/messaging/client-entry.ts), the chat page and the dashboard that
// `wirekit serve` serves. Fails if anything in their graphs reaches for node: modules.
import { build } from 'esbuild'
import { BROWSER_ENTRIES, BUILD_OPTIONS } from '../src/web/bundle.ts'

for (const [name, entry] of Object.entries(BROWSER_ENTRIES)) {
  const outfile = `dist/browser/${name}.js`
  const result = await build({
    ...BUILD_OPTIONS,
    entryPoints: [`src/${entry}`],
    outfile,
    sourcemap: true,
    metafile: true,
    logLevel: 'warning',
  })
  const inputs = Object.keys(result.metafile.inputs)
  const nodeOnly = inputs.filter((path) => path.startsWith('node:') || path.includes('/socket/'))
  if (nodeOnly.length > 0) throw new Error(`${outfile} reaches Node-only code: ${nodeOnly.join(', ')}`)
  const bytes = result.metafile.outputs[outfile]?.bytes ?? 0
  console.log(`${outfile}: ${bytes} bytes minified, ${inputs.length} modules`)
}
