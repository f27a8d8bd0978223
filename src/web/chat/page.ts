// The browser chat's routes: `/` (the page), `/chat.css` and `/chat.js` (src/web/chat/app.ts, bundled with
// the wirekit client). The page is static and holds no data: everything arrives over /ws and is put in
// with textContent. Served under PAGE_CSP: no inline script or style, nothing from another origin.
import { browserScript } from '../bundle.ts'
import type { Route } from '../http-server.ts'
import { asset } from '../respond.ts'

const HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>wirekit chat</title>
<link rel="stylesheet" href="/chat.css">
</head>
<body>
<header>
<h1>wirekit chat</h1>
<p id="state" role="status" aria-live="polite">starting…</p>
</header>
<form id="login" class="panel" novalidate>
<h2>Sign in</h2>
<p><label for="name">Nickname</label>
<input id="name" name="name" autocomplete="nickname" maxlength="24" required aria-describedby="name-rule"></p>
<p id="name-rule" class="hint">1–24 letters (any script), digits, spaces and _ . - '</p>
<p><label for="first-room">Room</label>
<input id="first-room" name="room" value="lobby" maxlength="33" autocapitalize="off" autocomplete="off"></p>
<p id="login-error" class="error" role="alert"></p>
<p><button type="submit">Enter</button></p>
</form>
<div id="chat" hidden>
<nav aria-label="Rooms">
<ul id="rooms"></ul>
<form id="join" novalidate>
<label for="join-room" class="visually-hidden">Join a room</label>
<input id="join-room" placeholder="join a room" maxlength="33" autocapitalize="off" autocomplete="off">
<button type="submit">Join</button>
</form>
</nav>
<main>
<h2 id="room-title"></h2>
<div id="logs"></div>
<form id="say" novalidate>
<label for="line" id="line-label">Message</label>
<input id="line" autocomplete="off" maxlength="2000" aria-describedby="line-hint">
<button type="submit">Send</button>
<p id="line-hint" class="hint">Enter sends. /help lists the commands. Lines wait here while the connection is down.</p>
</form>
</main>
<aside aria-labelledby="who-title">
<h2 id="who-title">Here</h2>
<ul id="who"></ul>
<p><button type="button" id="leave">Leave room</button> <button type="button" id="sign-out">Sign out</button></p>
</aside>
</div>
<script type="module" src="/chat.js"></script>
</body>
</html>
`

const CSS = `:root { color-scheme: light dark; --fg: #1d232a; --muted: #56606a; --accent: #2f6fdf; --bg: #fff; --card: #f2f4f7; --err: #b42318; --ok: #18794e; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e9ec; --muted: #a2abb4; --accent: #7aa7ff; --bg: #14171a; --card: #1e2227; --err: #ff8a7a; --ok: #5fd39a; } }
* { box-sizing: border-box; }
html, body { height: 100%; }
body { margin: 0; font: 15px/1.45 system-ui, sans-serif; color: var(--fg); background: var(--bg); display: flex; flex-direction: column; }
header { display: flex; align-items: baseline; gap: 12px; padding: 8px 12px; border-bottom: 1px solid var(--card); flex-wrap: wrap; }
h1 { font-size: 17px; margin: 0; }
h2 { font-size: 15px; margin: 0 0 6px; }
#state { margin: 0; color: var(--muted); }
#state.down { color: var(--err); }
#state.up { color: var(--ok); }
.panel { max-width: 420px; margin: 24px auto; padding: 16px; background: var(--card); border-radius: 8px; width: calc(100% - 24px); }
label { display: block; font-weight: 600; }
input { font: inherit; padding: 8px; border: 1px solid var(--muted); border-radius: 6px; background: var(--bg); color: var(--fg); width: 100%; min-width: 0; }
button { font: inherit; padding: 8px 14px; border: 0; border-radius: 6px; background: var(--accent); color: #fff; cursor: pointer; }
button.room { background: transparent; color: var(--fg); width: 100%; text-align: left; padding: 6px 8px; }
button.room[aria-current="true"] { background: var(--card); font-weight: 600; }
:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.hint { color: var(--muted); font-size: 13px; margin: 4px 0; }
.error { color: var(--err); min-height: 1em; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
#chat { flex: 1; min-height: 0; display: grid; grid-template-columns: 180px 1fr 180px; }
#chat[hidden] { display: none; }
nav, aside { padding: 10px; overflow: auto; border-right: 1px solid var(--card); }
aside { border-right: 0; border-left: 1px solid var(--card); }
nav ul, aside ul { list-style: none; margin: 0 0 10px; padding: 0; }
#join { display: flex; gap: 6px; }
main { display: flex; flex-direction: column; min-height: 0; min-width: 0; padding: 10px; }
#logs { flex: 1; min-height: 0; overflow-y: auto; }
ol.log { list-style: none; margin: 0; padding: 0; }
ol.log li { padding: 2px 0; overflow-wrap: anywhere; white-space: pre-wrap; }
.time { color: var(--muted); font-size: 12px; font-variant-numeric: tabular-nums; margin-right: 6px; }
.from { font-weight: 600; margin-right: 6px; }
.notice { color: var(--muted); font-style: italic; }
.notice.error { color: var(--err); font-style: normal; }
.mark { margin-left: 6px; font-size: 12px; color: var(--muted); }
.mark.delivered { color: var(--ok); }
.mark.failed { color: var(--err); }
li.pending .text { opacity: .7; }
#say { display: grid; grid-template-columns: 1fr auto; gap: 6px; padding-top: 8px; }
#say label, #say .hint { grid-column: 1 / -1; }
@media (max-width: 700px) {
  #chat { grid-template-columns: 1fr; grid-template-rows: auto 1fr auto; }
  nav { border: 0; border-bottom: 1px solid var(--card); display: flex; gap: 8px; align-items: center; padding: 6px 10px; }
  nav ul { display: flex; gap: 4px; overflow-x: auto; margin: 0; flex: 1; }
  button.room { width: auto; white-space: nowrap; }
  #join { flex: 0 0 45%; }
  aside { border: 0; border-top: 1px solid var(--card); padding: 6px 10px; max-height: 30vh; }
  aside ul { display: flex; flex-wrap: wrap; gap: 4px 12px; }
  #say .hint { display: none; }
}
`

export function chatRoutes(): Route[] {
  return [
    { path: '/', admin: false, handle: asset('text/html; charset=utf-8', () => HTML) },
    { path: '/chat.css', admin: false, handle: asset('text/css; charset=utf-8', () => CSS) },
    {
      path: '/chat.js',
      admin: false,
      handle: asset('text/javascript; charset=utf-8', () => browserScript('chat')),
    },
  ]
}
