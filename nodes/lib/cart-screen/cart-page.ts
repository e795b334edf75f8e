import { escapeHtml } from '../html-text';

/** What the cart's page needs to know, embedded in it (no other request before its event stream). */
export interface CartPageSettings {
  /** The cart's name in the header. */
  title: string;
  /** `en-US` or `de`; empty: the browser's language. */
  lang: string;
  /** 0 (mute) to 1. */
  volume: number;
  /** A PIN is needed first. */
  locked: boolean;
  /** The page's own path: its events, sign-in and PIN are below it. */
  base: string;
  /** The `device-fleet.screen` texts of each language. */
  texts: Record<string, unknown>;
}

/** JSON that can sit in a `<script>` element whatever its strings hold. */
const scriptSafe = (value: unknown): string =>
  JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');

/**
 * The cart's touch-screen page, whole: styles, settings and script inline, nothing loaded from
 * elsewhere (a cart's browser may reach only the cart host). What it shows comes from the event
 * stream and is put on the page as text, never as markup.
 */
export function cartPage(settings: CartPageSettings, script: string): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, user-scalable=no">
<title>${escapeHtml(settings.title)}</title>
<style>${STYLE}</style></head>
<body>
<header><span id="title"></span><span id="clock"></span></header>
<main><section id="state" aria-live="assertive"></section><section id="ports" aria-label="ports"></section></main>
<div id="offline" hidden></div>
<form id="sign-in" class="overlay" hidden autocomplete="off">
  <label><span data-text="user"></span><input name="user" autocapitalize="none" spellcheck="false" maxlength="256"></label>
  <label><span data-text="password"></span><input name="password" type="password" maxlength="1024"></label>
  <div class="buttons"><button type="button" data-text="cancel" id="sign-in-cancel"></button><button type="submit" data-text="send"></button></div>
  <p class="problem" id="sign-in-problem"></p>
</form>
<form id="pin" class="overlay" hidden autocomplete="off">
  <label><span data-text="pin"></span><input name="pin" type="password" inputmode="numeric" maxlength="64"></label>
  <div class="buttons"><button type="submit" data-text="unlock"></button></div>
  <p class="problem" id="pin-problem"></p>
</form>
<script id="settings" type="application/json">${scriptSafe(settings)}</script>
<script>${script}</script>
</body></html>
`;
}

/** Readable from a metre away, on 800x480 and 1280x800 alike: sizes follow the screen's height, nothing scrolls. */
const STYLE = `
html,body{margin:0;height:100%;overflow:hidden;background:#0f1419;color:#f2f4f7;font-family:system-ui,"Segoe UI",Roboto,sans-serif}
body{display:grid;grid-template-rows:auto 1fr;height:100vh}
header{display:flex;justify-content:space-between;align-items:center;padding:1.2vh 2.5vw;font-size:3.6vh;background:#1a222c;color:#c9d1d9}
main{display:grid;grid-template-columns:3fr 2fr;gap:2.5vw;padding:2.5vh 2.5vw;min-height:0}
#state{display:flex;flex-direction:column;justify-content:center;gap:2.5vh;min-width:0;overflow:hidden}
.big{font-size:8vh;font-weight:700;line-height:1.15;overflow-wrap:anywhere;display:-webkit-box;-webkit-line-clamp:2;-webkit-box-orient:vertical;overflow:hidden}
.mid{font-size:5vh;line-height:1.25;overflow-wrap:anywhere;display:-webkit-box;-webkit-line-clamp:2;-webkit-box-orient:vertical;overflow:hidden}
.words{font-size:6vh;font-weight:700;line-height:1.2;overflow-wrap:anywhere}
.words.long{font-size:3.8vh}
.small{font-size:3.4vh;color:#c9d1d9}
.countdown{font-size:6vh;font-variant-numeric:tabular-nums;color:#ffd866}
.refused .words{color:#ff8a80}
.taken .big{color:#7ee787}
button{font:inherit;font-size:4.2vh;padding:1.6vh 4vw;border-radius:1.4vh;border:0;background:#2f81f7;color:#fff}
button[data-text="cancel"]{background:#3a4452}
.hub{display:flex;gap:0.8vw;margin-top:1vh}
.hub span{flex:1;max-width:6vw;height:6vh;border-radius:0.8vh;background:#2a3442;display:flex;align-items:center;justify-content:center;font-size:2.6vh}
.hub span.here{background:#f2f4f7;color:#0f1419;font-weight:700;animation:flash 0.8s infinite alternate}
@keyframes flash{to{background:#8b949e}}
#ports{display:flex;flex-direction:column;gap:1vh;overflow:hidden;min-width:0}
#ports h2{margin:0;font-size:2.8vh;font-weight:600;color:#8b949e}
.grid{display:grid;grid-template-columns:repeat(4,1fr);gap:0.8vh}
.tile{border-radius:1vh;padding:0.6vh 0.6vw;background:#1f2833;border-left:0.8vh solid #6e7681;font-size:2.3vh;line-height:1.25;overflow:hidden}
.tile b{display:block;font-size:3vh}
.tile .who{overflow:hidden;white-space:nowrap;text-overflow:ellipsis}
.tile.ready{border-left-color:#3fb950}
.tile.charging{border-left-color:#d29922}
.tile.waiting{border-left-color:#f2f4f7}
.tile.failed{border-left-color:#f85149}
.overlay{position:fixed;inset:0;background:rgba(15,20,25,0.97);display:flex;flex-direction:column;justify-content:center;align-items:center;gap:2.5vh;font-size:4vh}
.overlay[hidden]{display:none}
.overlay label{display:flex;flex-direction:column;gap:0.8vh;width:60vw}
.overlay input{font:inherit;font-size:4.5vh;padding:1.2vh 1vw;border-radius:1vh;border:0}
.buttons{display:flex;gap:3vw}
.problem{color:#ff8a80;min-height:4vh;margin:0}
#offline{position:fixed;left:0;right:0;bottom:0;padding:1vh;text-align:center;background:#9e6a03;font-size:3vh}
`;
