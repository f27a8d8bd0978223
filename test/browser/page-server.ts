// An HTTP server for browser tests: serves a blank page and the client bundle at /wirekit-client.js,
// and carries a MessageServer's WebSocket endpoint at /ws through server.attach.
import http from 'node:http'
import { MessageServer, type MessageServerOptions } from '../../src/messaging/index.ts'
import { browserBundle } from '../helpers/browser.ts'

export type PageServer = { http: http.Server; server: MessageServer; port: number; origin: string }

export async function startPageServer(options: MessageServerOptions = {}): Promise<PageServer> {
  const bundle = browserBundle()
  const web = http.createServer((req, res) => {
    if (req.url === '/wirekit-client.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' })
      res.end(bundle)
    } else {
      res.writeHead(200, { 'content-type': 'text/html' })
      res.end('<!doctype html><title>wirekit</title>')
    }
  })
  await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve))
  const server = new MessageServer(options)
  server.attach(web, { path: '/ws' })
  const port = (web.address() as { port: number }).port
  return { http: web, server, port, origin: `http://127.0.0.1:${port}` }
}

export async function stopPageServer(s: PageServer): Promise<void> {
  await s.server.close()
  s.http.closeAllConnections()
  await new Promise((resolve) => s.http.close(resolve))
}
