// The browser-safe entry, `@wirekit/core/client`: MessageClient over ws:// and wss:// with no node:
// imports and no Buffer, bundled to dist/browser/client.js. The same exactly-once contract as Node.

export {
  BackpressureError,
  ClosedError,
  ConnectError,
  ErrorCodes,
  MessagingError,
  ProtocolError,
  TimeoutError,
  WirekitError,
} from '../errors.ts'
export {
  type BrowserClientOptions as MessageClientOptions,
  type ClientState,
  MessageClient,
  type RequestOptions,
} from './browser-client.ts'
export type { PersistMode } from './session/web-storage.ts'
