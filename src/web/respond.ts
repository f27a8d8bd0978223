// How the HTTP side answers: the pages' assets under a strict Content-Security-Policy, and short texts.
import type { ServerResponse } from 'node:http'
import type { Route } from './http-server.ts'

/** For the pages (chat, dashboard): nothing inline, nothing from elsewhere; only their own script, style and socket. */
export const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/** A route handler answering with `body()` (a page, its style or its script) under the pages' CSP. */
export function asset(type: string, body: () => string | Promise<string>): Route['handle'] {
  return async (_req, res) => {
    let content: string
    try {
      content = await body()
    } catch (error) {
      return text(res, 503, `${(error as Error).message}\n`)
    }
    res.writeHead(200, {
      'content-type': type,
      'content-security-policy': PAGE_CSP,
      'cache-control': 'no-cache',
    })
    res.end(content)
  }
}

export function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' })
  res.end(body)
}
