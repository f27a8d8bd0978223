// Public exports of the fault proxy: the proxy, its fault types and the parsers the CLI uses for its flags.

export {
  type ActiveFaults,
  FaultProxy,
  type FaultProxyOptions,
  type FaultProxyStats,
} from './fault-proxy.ts'
export type { DirectionFaults, Faults } from './faults.ts'
export { type FaultFlags, parseBytes, parseDuration, parseFaults, parseHostPort } from './parse.ts'
