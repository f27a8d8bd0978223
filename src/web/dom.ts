// The few DOM shapes the browser pages (chat, dashboard) use, declared here: the project typechecks
// against Node's types, and the DOM library would change the meaning of globals (fetch bodies, timers)
// for every other file. Types only; the pages reach the real objects through `page` below.

export type DomEvent = {
  type: string
  key: string
  shiftKey: boolean
  target: unknown
  preventDefault(): void
}

export type El = {
  id: string
  className: string
  textContent: string | null
  hidden: boolean
  value: string
  disabled: boolean
  readonly dataset: Record<string, string | undefined>
  readonly classList: {
    add(...names: string[]): void
    remove(...names: string[]): void
    toggle(name: string, on?: boolean): boolean
    contains(name: string): boolean
  }
  readonly children: ArrayLike<El>
  readonly parentElement: El | null
  scrollTop: number
  readonly scrollHeight: number
  readonly clientHeight: number
  append(...children: (El | string)[]): void
  insertBefore(child: El, before: El | null): void
  replaceChildren(...children: (El | string)[]): void
  remove(): void
  setAttribute(name: string, value: string): void
  removeAttribute(name: string): void
  addEventListener(type: string, listener: (event: DomEvent) => void): void
  focus(): void
  select(): void
}

export type Doc = {
  title: string
  readonly visibilityState: string
  createElement(tag: string): El
  createElementNS(namespace: string, tag: string): El
  getElementById(id: string): El | null
}

type Storage = { getItem(key: string): string | null; setItem(key: string, value: string): void }

/** The page's globals, typed. */
export const page = globalThis as unknown as {
  document: Doc
  location: { protocol: string; host: string; hash: string; reload(): void }
  sessionStorage: Storage
  addEventListener(type: string, listener: (event: DomEvent) => void): void
  requestAnimationFrame(callback: () => void): number
}

/** An element with text (never markup) and an optional class. */
export function element(tag: string, text?: string, className?: string): El {
  const node = page.document.createElement(tag)
  if (text !== undefined) node.textContent = text
  if (className !== undefined) node.className = className
  return node
}

/** The element with `id`; throws if the page lacks it (a page/script mismatch). */
export function byId(id: string): El {
  const node = page.document.getElementById(id)
  if (node === null) throw new Error(`#${id} is missing from the page`)
  return node
}

/** The ws:// (or wss://) URL of `path` on the page's own origin. */
export function socketUrl(path: string): string {
  return `${page.location.protocol === 'https:' ? 'wss' : 'ws'}://${page.location.host}${path}`
}
