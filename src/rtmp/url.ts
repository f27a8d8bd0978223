// RTMP URLs: rtmp://host[:port]/app[/inner]/stream[?query] (and rtmps://). The stream name is the
// last path segment; everything before it is the application, as ffmpeg and OBS split them.
import { ErrorCodes, WirekitError } from '../errors.ts'

export type RtmpUrl = {
  secure: boolean
  host: string
  port: number
  app: string
  /** The stream name (key) with its query string, as sent in publish/play. */
  stream: string
  /** What the connect command's tcUrl carries: the URL up to and including the app. */
  tcUrl: string
}

export function parseRtmpUrl(text: string): RtmpUrl {
  let url: URL
  try {
    url = new URL(text)
  } catch (cause) {
    throw new WirekitError(ErrorCodes.RTMP_BAD_URL, `not a URL: ${text}`, { cause })
  }
  const secure = url.protocol === 'rtmps:'
  if (!secure && url.protocol !== 'rtmp:')
    throw new WirekitError(ErrorCodes.RTMP_BAD_URL, `not an rtmp:// or rtmps:// URL: ${text}`)
  const segments = url.pathname.split('/').filter((s) => s !== '')
  if (segments.length < 2)
    throw new WirekitError(ErrorCodes.RTMP_BAD_URL, `an RTMP URL needs /app/stream: ${text}`)
  const stream = decodeURIComponent(segments.pop()!) + url.search
  const app = segments.map(decodeURIComponent).join('/')
  const host = url.hostname.replace(/^\[|\]$/g, '')
  const port = url.port === '' ? (secure ? 443 : 1935) : Number(url.port)
  const tcUrl = `${url.protocol}//${url.host}/${segments.join('/')}`
  return { secure, host, port, app, stream, tcUrl }
}

/** Splits "name?a=1&b=2" into the name and its query parameters. */
export function splitQuery(name: string): { name: string; query: Record<string, string> } {
  const at = name.indexOf('?')
  if (at < 0) return { name, query: {} }
  return { name: name.slice(0, at), query: Object.fromEntries(new URLSearchParams(name.slice(at + 1))) }
}
