// The plain-HTTP rule as a pipeline step: every hop the session sends (the request, an adapted request, each redirect)
// passes here once, just before its dispatch. Pins are the connection's concern (connector.ts checks them on the TLS
// socket before any byte); raw `dispatchInterceptors` may dispatch where the session cannot see, so under them the
// same rule also guards the agent (`insecureGuard`).
import type { Dispatcher } from 'undici'
import type { SecurityPolicy } from '../security.ts'
import type { Step } from './step.ts'

export function security(policy: SecurityPolicy): Step {
  return (next) => (call) => {
    const { url } = call
    policy.checkTransport(url.protocol, url.hostname, url.href)
    return next(call)
  }
}

/** An undici interceptor applying the plain-HTTP rule to whatever reaches the agent (under raw interceptors only). */
export function insecureGuard(policy: SecurityPolicy): Dispatcher.DispatcherComposeInterceptor {
  // Bounded memo of allowed plain-http origins: the rule depends on the origin only.
  const allowed = new Set<string>()
  return (dispatch) => (opts, handler) => {
    const origin = opts.origin
    // Hot path: https origins (strings) pass without parsing; plain-http ones are checked per hop.
    const known = typeof origin === 'string' && (origin.startsWith('https:') || allowed.has(origin))
    if (origin !== undefined && !known) {
      const parsed = typeof origin === 'string' ? new URL(origin) : origin
      try {
        policy.checkTransport(parsed.protocol, parsed.hostname, `${parsed.origin}${opts.path}`)
        if (allowed.size >= 256) allowed.clear()
        allowed.add(parsed.origin)
      } catch (error) {
        // Same convention as undici's own interceptors for a failure before dispatch: no controller yet.
        handler.onResponseError?.(null as unknown as Dispatcher.DispatchController, error as Error)
        return true
      }
    }
    return dispatch(opts, handler)
  }
}
