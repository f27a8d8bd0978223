// Downloads to disk. The body goes to `<to>.download` (its validators in `<to>.download.json`) and is renamed to `to`
// only once complete and of the announced length, so a file at `to` is always whole. With `resume`, an interrupted
// partial file is continued with Range + If-Range; a changed resource (200 instead of 206) starts over.

import { createWriteStream, type WriteStream } from 'node:fs'
import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { ErrorCodes, HttpError, InvalidArgumentError } from '../errors.ts'
import { normalizeHeaders } from './headers.ts'
import { countChunks, ProgressReporter } from './progress.ts'
import type { HttpResponse } from './response.ts'
import type { DownloadOptions, DownloadResult, HttpRequestOptions } from './types.ts'

/** The part of HttpSession that download() needs. */
type Requester = {
  request<T>(method: string, url: string | URL, options: HttpRequestOptions): Promise<HttpResponse<T>>
}

type PartialMeta = { url: string; validator: string }

export async function download(
  session: Requester,
  url: string | URL,
  options: DownloadOptions,
): Promise<DownloadResult> {
  const { to, resume = false, onProgress, onStart, ...rest } = options
  if (typeof to !== 'string' || to === '')
    throw new InvalidArgumentError('download needs a destination path `to`')
  const partial = `${to}.download`
  const metaPath = `${partial}.json`
  const key = String(url)
  let offset = 0
  let validator: string | undefined
  if (resume) {
    const meta = await readMeta(metaPath)
    const size = await fileSize(partial)
    if (meta !== undefined && meta.url === key && size > 0) {
      offset = size
      validator = meta.validator
    }
  }
  if (offset === 0) await rm(partial, { force: true })
  const headers = normalizeHeaders(rest.headers)
  if (offset > 0 && validator !== undefined) {
    headers.range = `bytes=${offset}-`
    headers['if-range'] = validator
  }
  const response = await session.request<Readable | undefined>('GET', url, {
    ...rest,
    headers,
    responseType: 'stream',
    cachePolicy: 'network-only',
    acceptableStatusCodes: (status) => (status >= 200 && status < 300) || (offset > 0 && status === 416),
  })
  const body = response.data
  // The body may fail while we await the file system below, before pipeline() listens: without this an
  // origin that cuts the body at once crashes the process with an unhandled 'error'. pipeline still sees it.
  body?.on('error', noop)
  let file: WriteStream | undefined
  try {
    let total: number | undefined
    let append = false
    let discarded = 0
    if (response.status === 416) {
      // Nothing left to send: complete if the server's size is what we have, otherwise start over.
      const size = Number(/\/(\d+)$/.exec(response.headers['content-range'] ?? '')?.[1])
      body?.destroy()
      if (size === offset) return await finish(partial, metaPath, to, offset, offset, response)
      await discard(partial, metaPath)
      return await download(session, url, { ...options, resume: false })
    }
    if (response.status === 206) {
      const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(response.headers['content-range'] ?? '')
      if (range === null || Number(range[1]) !== offset) {
        throw new HttpError(ErrorCodes.HTTP_BODY, `Unusable Content-Range for resume: ${response.url}`, {
          response,
        })
      }
      append = true
      total = range[3] === '*' ? undefined : Number(range[3])
    } else {
      discarded = offset
      offset = 0
      const length = Number(response.headers['content-length'])
      total = Number.isFinite(length) ? length : undefined
    }
    const etag = response.headers.etag
    const strongValidator =
      etag !== undefined && !etag.startsWith('W/') ? etag : response.headers['last-modified']
    if (resume && strongValidator !== undefined)
      await writeFile(metaPath, JSON.stringify({ url: key, validator: strongValidator }))
    onStart?.({ resumedFrom: append ? offset : 0, total, discarded })
    const reporter = new ProgressReporter(
      onProgress ?? noop,
      total,
      options.onProgress ? 100 : Infinity,
      append ? offset : 0,
    )
    file = createWriteStream(partial, { flags: append ? 'a' : 'w' })
    if (body !== undefined)
      await pipeline(body, (source: AsyncIterable<Uint8Array>) => countChunks(source, reporter), file)
    else
      await new Promise<void>((resolve, reject) =>
        file?.end((error?: Error | null) => (error ? reject(error) : resolve())),
      )
    reporter.finish()
    const size = await fileSize(partial)
    if (total !== undefined && size !== total) {
      throw new HttpError(ErrorCodes.HTTP_BODY, `Download has ${size} of ${total} bytes: ${response.url}`, {
        response,
      })
    }
    return await finish(partial, metaPath, to, size, append ? offset : 0, response)
  } catch (error) {
    body?.destroy()
    // The file opens asynchronously: wait until it is closed, or an open that completes after the
    // discard would create the partial file again.
    if (file !== undefined) await closed(file)
    if (!resume) await discard(partial, metaPath)
    if (error instanceof HttpError && error.response === undefined) error.response = response
    throw error
  }
}

async function finish(
  partial: string,
  metaPath: string,
  to: string,
  bytes: number,
  resumedFrom: number,
  response: HttpResponse<Readable | undefined>,
): Promise<DownloadResult> {
  await rename(partial, to)
  await rm(metaPath, { force: true })
  return { path: to, bytes, resumedFrom, response }
}

function closed(file: WriteStream): Promise<void> {
  if (file.closed) return Promise.resolve()
  return new Promise((resolve) => {
    file.once('close', () => resolve())
    file.destroy()
  })
}

async function discard(partial: string, metaPath: string): Promise<void> {
  await rm(partial, { force: true })
  await rm(metaPath, { force: true })
}

async function readMeta(path: string): Promise<PartialMeta | undefined> {
  try {
    const meta = JSON.parse(await readFile(path, 'utf8')) as PartialMeta
    return typeof meta.url === 'string' && typeof meta.validator === 'string' ? meta : undefined
  } catch {
    return undefined
  }
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size
  } catch {
    return 0
  }
}

function noop(): void {}
