// The one undici dispatcher of a session: an Agent (or a ProxyAgent tunnelling through an HTTP proxy) whose
// connections go through the session's connector, composed with the interceptors, innermost first:
//   security (plain-HTTP rule, only under the caller's interceptors) → cache → the caller's dispatchInterceptors.
// Redirects are followed by the session above all of them (redirect.ts), one dispatch per hop. The session checks
// the plain-HTTP rule itself on every URL it dispatches (request, adapted request, redirect hop), so the security
// interceptor is there only for the caller's raw interceptors, which may dispatch elsewhere; a plain session
// dispatches straight into the Agent.
import { Agent, buildConnector, type Dispatcher, Pool, ProxyAgent } from 'undici'
import { wrapConnector } from './connector.ts'
import { type SecurityPolicy, tlsOptions } from './security.ts'
import type { HttpSessionOptions } from './types.ts'

/** Builds the session's dispatcher and the base one to close. */
export function createDispatcher(
  options: HttpSessionOptions,
  policy: SecurityPolicy,
  cacheInterceptor: Dispatcher.DispatcherComposeInterceptor | undefined,
): { dispatcher: Dispatcher; base: Dispatcher } {
  const tls = tlsOptions(options)
  const allowH2 = options.allowH2 ?? true
  const common = {
    connections: options.connections ?? 64,
    maxHeaderSize: options.maxHeaderSize ?? 16_384,
    bodyTimeout: options.bodyTimeout ?? 30_000,
    allowH2,
  }
  let base: Dispatcher
  if (options.proxy !== undefined) {
    base = new ProxyAgent({
      ...common,
      uri: String(options.proxy),
      // undici 8 sends plain-http requests to the proxy in absolute form unless told to tunnel them; tunnelling keeps
      // one path (and the connector's timings) for every request.
      proxyTunnel: true,
      requestTls: { ...tls, allowH2, timeout: options.connectTimeout ?? 10_000 },
      // The tunnel's connect function reaches each origin's pool here: wrap it for timings and pins.
      factory: (origin, opts) =>
        new Pool(origin, {
          ...opts,
          connect: wrapConnector((opts as { connect: buildConnector.connector }).connect, policy),
        }),
    })
  } else {
    const connect = buildConnector({ ...tls, allowH2, timeout: options.connectTimeout ?? 10_000 })
    base = new Agent({ ...common, connect: wrapConnector(connect, policy) })
  }
  const chain: Dispatcher.DispatcherComposeInterceptor[] = []
  const raw = options.dispatchInterceptors ?? []
  if (raw.length > 0) chain.push(policy.interceptor())
  if (cacheInterceptor !== undefined) chain.push(cacheInterceptor)
  chain.push(...raw)
  return { dispatcher: chain.length === 0 ? base : base.compose(chain), base }
}
