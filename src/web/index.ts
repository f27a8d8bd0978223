// Public exports of the web layer: what `wirekit serve` shows over HTTP, and the metrics registry for
// applications that run their own HTTP server.

export { ADMIN_FEED_PATH, type AdminFeed, type AdminFeedOptions, adminFeed } from './admin-feed.ts'
export {
  type HttpListener,
  type HttpListenerOptions,
  listenHttp,
  type Route,
  serveRoutes,
} from './http-server.ts'
export { type MetricsOptions, metricsFor, type ServerMetrics, type ServerStats } from './metrics.ts'
export {
  type ClusterFigures,
  type NodeFigures,
  type NodeFiguresFeed,
  type NodeFiguresOptions,
  type NodeRates,
  nodeFigures,
} from './node-figures.ts'
