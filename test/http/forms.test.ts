import assert from 'node:assert/strict'
import type { IncomingMessage } from 'node:http'
import { after, before, describe, test } from 'node:test'
import { HttpSession } from '../../src/http/index.ts'
import { startHttpServer, type TestServer } from '../helpers/http-servers.ts'

type Echo = { url: string; type: string; body: string }

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

describe('HttpSession arrayFormat on forms and queries', () => {
  let server: TestServer

  before(async () => {
    server = await startHttpServer(async (req, res) => {
      const echo: Echo = {
        url: req.url ?? '',
        type: req.headers['content-type'] ?? '',
        body: await readBody(req),
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(echo))
    })
  })
  after(async () => {
    await server.close()
  })

  async function send(arrayFormat: 'repeat' | 'brackets' | 'comma' | undefined): Promise<Echo> {
    const api = new HttpSession({
      baseURL: server.url,
      query: arrayFormat === undefined ? undefined : { arrayFormat },
    })
    try {
      const res = await api.post<Echo>('f', {
        query: { tag: ['x', 'y'] },
        form: { tag: ['a b', 'c'], user: { name: 'Ada' }, empty: [] },
      })
      assert.match(res.data.type, /^application\/x-www-form-urlencoded/)
      return res.data
    } finally {
      await api.close()
    }
  }

  test("'brackets' writes tag[]=… in form bodies (spaces as +) and in queries", async () => {
    const echo = await send('brackets')
    assert.equal(echo.body, 'tag%5B%5D=a+b&tag%5B%5D=c&user%5Bname%5D=Ada')
    const form = new URLSearchParams(echo.body)
    assert.deepEqual(form.getAll('tag[]'), ['a b', 'c'])
    assert.deepEqual(new URL(echo.url, 'http://x').searchParams.getAll('tag[]'), ['x', 'y'])
  })

  test("'comma' joins array items into one field", async () => {
    const echo = await send('comma')
    assert.equal(echo.body, 'tag=a+b,c&user%5Bname%5D=Ada')
    assert.equal(new URLSearchParams(echo.body).get('tag'), 'a b,c')
    assert.equal(new URL(echo.url, 'http://x').searchParams.get('tag'), 'x,y')
  })

  test("'repeat' (the default) repeats the key, and an empty array sends nothing", async () => {
    const explicit = await send('repeat')
    const byDefault = await send(undefined)
    assert.equal(explicit.body, 'tag=a+b&tag=c&user%5Bname%5D=Ada')
    assert.equal(byDefault.body, explicit.body)
    assert.deepEqual(new URL(byDefault.url, 'http://x').searchParams.getAll('tag'), ['x', 'y'])
  })
})
