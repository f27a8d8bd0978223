import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { Dispatcher } from 'undici'
import { HttpSession } from '../../src/http/index.ts'
import { startHttpServer, type TestServer } from '../helpers/http-servers.ts'

describe('HttpSession raw dispatchInterceptors', () => {
  let server: TestServer

  before(async () => {
    server = await startHttpServer((req, res) => {
      if (req.url === '/moved') return res.writeHead(302, { location: '/here' }).end()
      res.end(`at ${req.url}`)
    })
  })
  after(async () => {
    await server.close()
  })

  test('see every dispatch, each redirect hop included', async () => {
    const paths: string[] = []
    const record: Dispatcher.DispatcherComposeInterceptor = (dispatch) => (opts, handler) => {
      paths.push(`${opts.method} ${opts.path}`)
      return dispatch(opts, handler)
    }
    const api = new HttpSession({ baseURL: server.url, dispatchInterceptors: [record] })
    try {
      const res = await api.get('moved', { responseType: 'text' })
      assert.equal(res.data, 'at /here')
      assert.deepEqual(paths, ['GET /moved', 'GET /here'])
    } finally {
      await api.close()
    }
  })

  test('one that sends a request to a plain-http host is still held to the plain-HTTP rule', async () => {
    const retarget: Dispatcher.DispatcherComposeInterceptor = (dispatch) => (opts, handler) =>
      dispatch({ ...opts, origin: 'http://wirekit-test.invalid' }, handler)
    const api = new HttpSession({ baseURL: server.url, dispatchInterceptors: [retarget], retry: false })
    try {
      await assert.rejects(api.get('x'), { code: 'WK_HTTP_INSECURE' })
    } finally {
      await api.close()
    }
  })
})
