// `wirekit get <url>`: one HTTP GET through HttpSession, with timings; `-o file` downloads with a
// progress bar and `--resume` continues an interrupted download.

import type { HttpProgress, HttpTimings } from '../http/index.ts'
import { HttpSession } from '../http/index.ts'

export type GetOptions = {
  output?: string
  resume?: boolean
  cache?: 'memory' | 'sqlite'
  cachePath?: string
  insecure?: boolean
}

export async function get(url: string, options: GetOptions): Promise<void> {
  const session = new HttpSession({
    security: { allowInvalidCertificates: options.insecure ?? false, allowInsecureHTTP: true },
    cache: options.cache ? { store: options.cache, path: options.cachePath } : undefined,
  })
  const controller = new AbortController()
  const onSigint = () => controller.abort()
  process.once('SIGINT', onSigint)
  try {
    if (options.output) {
      const bar = progressBar()
      const result = await session.download(url, {
        to: options.output,
        resume: options.resume ?? false,
        signal: controller.signal,
        onProgress: bar.update,
      })
      bar.done()
      const resumed = result.resumedFrom > 0 ? ` (resumed from ${formatBytes(result.resumedFrom)})` : ''
      process.stderr.write(`saved ${result.path}: ${formatBytes(result.bytes)}${resumed}\n`)
      process.stderr.write(`${result.response.status} ${formatTimings(result.response.timings)}\n`)
    } else {
      const res = await session.get(url, { responseType: 'bytes', signal: controller.signal })
      process.stdout.write(res.data as Uint8Array)
      const cached = res.fromCache ? ' (from cache)' : ''
      process.stderr.write(`\n${res.status} ${res.statusText}${cached} ${formatTimings(res.timings)}\n`)
    }
  } finally {
    process.off('SIGINT', onSigint)
    await session.close()
  }
}

function formatTimings(t: HttpTimings): string {
  const ms = (n: number) => `${n.toFixed(1)}ms`
  return `dns ${ms(t.dns)} connect ${ms(t.connect)} tls ${ms(t.tls)} first byte ${ms(t.firstByte)} total ${ms(t.total)}`
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`
  return `${(n / 1024 ** 3).toFixed(2)} GiB`
}

/** A one-line progress bar on stderr (only when stderr is a terminal: logs stay clean). */
function progressBar(): { update: (p: HttpProgress) => void; done: () => void } {
  const tty = process.stderr.isTTY
  const width = 30
  return {
    update({ done, total }) {
      if (!tty) return
      const fraction = total ? Math.min(done / total, 1) : 0
      const filled = Math.round(fraction * width)
      const bar = total
        ? `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(0)}%`
        : ''
      process.stderr.write(`\r${bar} ${formatBytes(done)}${total ? ` / ${formatBytes(total)}` : ''}   `)
    },
    done() {
      if (tty) process.stderr.write('\n')
    },
  }
}
