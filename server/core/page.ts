// The page layout of the daemon's small, self-contained HTML pages (each capability writes its own
// pages with it, in its pages.ts). Built with `html` (escaping by default); one stylesheet,
// allowed by its hash; no script, nothing loaded from elsewhere.
import { createHash } from 'node:crypto';
import { Html, html, withCode } from './html.js';
import { describeWait } from './throttle.js';

const STYLE = `body{margin:0;background:#f6f8fa;color:#1f2328;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;line-height:1.5}
main{max-width:32rem;margin:4rem auto;padding:2rem;background:#fff;border:1px solid #d0d7de;border-radius:12px}
.brand{margin:0 0 1.5rem;font-weight:700}.brand span{display:inline-block;width:.8rem;height:.8rem;margin-right:.5rem;background:#1f6feb;border-radius:3px}
h1{margin:0 0 1rem;font-size:1.5rem;line-height:1.25}.ok{color:#1a7f37}.bad{color:#cf222e}
p{margin:0 0 1rem}.muted{color:#59636e;font-size:.9rem}
.addr{display:inline-block;max-width:100%;overflow-wrap:anywhere;font-weight:600}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em;background:#eff2f5;padding:.1rem .35rem;border-radius:4px}
pre{margin:0 0 1rem;padding:.6rem .8rem;background:#eff2f5;border-radius:6px;overflow-x:auto}pre code{padding:0;background:none}
form{margin:1.5rem 0}
button{font:inherit;font-weight:600;color:#fff;background:#1f6feb;border:0;border-radius:6px;padding:.7rem 1.75rem;cursor:pointer}
button:hover{background:#1a5fd0}button:focus-visible{outline:3px solid #80b3ff;outline-offset:2px}
label{display:block;margin:0 0 .35rem;font-weight:600}
input[type=password]{box-sizing:border-box;width:100%;margin:0 0 1rem;padding:.6rem .75rem;font:inherit;color:inherit;background:#fff;border:1px solid #d0d7de;border-radius:6px}
input[type=password]:focus{outline:3px solid #80b3ff;outline-offset:0;border-color:#1f6feb}
.rules{margin:0 0 1.5rem;padding-left:1.25rem;color:#59636e;font-size:.9rem}
.alert{margin:0 0 1rem;padding:.6rem .8rem;color:#82071e;background:#ffebe9;border:1px solid #ff8182;border-radius:6px}
input[type=text],input[type=email],input[type=password]{box-sizing:border-box;width:100%;margin:0 0 1rem;padding:.6rem .75rem;font:inherit;color:inherit;background:#fff;border:1px solid #d0d7de;border-radius:6px}
input[type=text]:focus,input[type=email]:focus{outline:3px solid #80b3ff;outline-offset:0;border-color:#1f6feb}
input[aria-invalid=true]{border-color:#cf222e;margin-bottom:.25rem}
.field-error{margin:0 0 1rem;color:#cf222e;font-size:.9rem}
a{color:#0969da}a:focus-visible{outline:3px solid #80b3ff;outline-offset:2px}
.notice{margin:0 0 1rem;padding:.6rem .8rem;color:#0f5323;background:#dafbe1;border:1px solid #4ac26b;border-radius:6px}
main.wide{max-width:44rem}
.top{display:flex;flex-wrap:wrap;align-items:center;justify-content:space-between;gap:.5rem 1rem;margin:0 0 1.5rem}.top .brand{margin:0}
.who{display:flex;flex-wrap:wrap;align-items:center;gap:.5rem .75rem;overflow-wrap:anywhere}
form.inline{display:inline;margin:0}
button.secondary{color:#1f2328;background:#f6f8fa;border:1px solid #d0d7de;padding:.35rem .9rem}button.secondary:hover{background:#eaeef2}
button.danger{color:#cf222e;background:#fff;border:1px solid #d0d7de;padding:.35rem .9rem}button.danger:hover{color:#fff;background:#cf222e}
h2{margin:2rem 0 .75rem;padding-top:1.25rem;border-top:1px solid #d0d7de;font-size:1.15rem}
dl{margin:0 0 1rem;display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dt{color:#59636e}dd{margin:0;overflow-wrap:anywhere}
ul.items{margin:0 0 1rem;padding:0;list-style:none}ul.items li{display:flex;flex-wrap:wrap;align-items:center;justify-content:space-between;gap:.5rem 1rem;padding:.75rem 0;border-bottom:1px solid #eaeef2}
ul.items li div{min-width:0;overflow-wrap:anywhere}.tag{display:inline-block;margin-left:.35rem;padding:0 .45rem;font-size:.8rem;font-weight:600;color:#0f5323;background:#dafbe1;border-radius:999px}
details{margin:0 0 1rem}summary{cursor:pointer;color:#0969da;font-weight:600;margin:0 0 .75rem}
.field-hint{margin:-.6rem 0 1rem;color:#59636e;font-size:.85rem}
.actions{display:flex;flex-wrap:wrap;gap:.75rem;margin:1.5rem 0}
a.button{display:inline-block;font-weight:600;color:#fff;background:#1f6feb;border-radius:6px;padding:.7rem 1.75rem;text-decoration:none}a.button:hover{background:#1a5fd0}
a.button.secondary{color:#1f2328;background:#f6f8fa;border:1px solid #d0d7de;padding:calc(.7rem - 1px) 1.75rem}a.button.secondary:hover{background:#eaeef2}
.links{margin:1.5rem 0 0;color:#59636e;font-size:.9rem}.links a{margin-right:1rem}
[hidden]{display:none!important}
.or{margin:1.25rem 0 .75rem;color:#59636e;font-size:.9rem;text-align:center}
@media (max-width:36rem){main{margin:0;border:0;border-radius:0}dl{grid-template-columns:1fr}dt{margin-top:.35rem}}`;

/**
 * A strict policy: nothing loads, only this one stylesheet applies (by its hash), no script runs,
 * and the only form may post to this server.
 */
export const PAGE_CSP = `default-src 'none'; style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'`;

/** The headers of every page: the policy above, no referrer (the address holds a token), no framing. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': PAGE_CSP,
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
};

/** Answers a page: its status, the page headers, HTML. (Cache-Control: no-store comes from the app's frame.) */
export function sendPage(ctx: { status: number; type: string; body: unknown; set(headers: Record<string, string>): void }, status: number, page: Html, headers: Readonly<Record<string, string>> = PAGE_HEADERS): void {
  ctx.status = status;
  ctx.set({ ...headers });
  ctx.type = 'text/html; charset=utf-8';
  ctx.body = page.markup;
}

/** How a page is laid out beyond its title and content (the web pages, server/web/, use these). */
export interface PageOptions {
  /** Markup beside the brand at the top (the signed-in header: who, and the sign-out button). */
  header?: Html;
  /** A wider column, for the account dashboard's lists. */
  wide?: boolean;
}

// The stylesheet goes in as written (not escaped): the CSP allows it by its exact hash.
export function renderPage(title: string, tone: 'ok' | 'bad' | 'plain', content: Html, options: PageOptions = {}): Html {
  const brand = html`<p class="brand"><span></span>TaskMaster</p>`;
  return html`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="robots" content="noindex"><title>${title} · TaskMaster</title>
<style>${new Html(STYLE)}</style></head>
<body>
<main${options.wide ? html` class="wide"` : ''}>
${options.header ? html`<div class="top">${brand}${options.header}</div>` : brand}
<h1${tone === 'plain' ? '' : html` class="${tone}"`}>${title}</h1>
${content}
</main>
</body>
</html>
`;
}

/** `text` as a paragraph, with `command` spans as <code>. */
export const say = (text: string, muted = false) => html`<p${muted ? html` class="muted"` : ''}>${withCode(text)}</p>\n`;

/** What to type next, on a line of its own (a command broken across lines is hard to read). */
export const inTerminal = (lead: string, command: string) => html`<p>${lead}, in your terminal:</p>\n<pre><code>${command}</code></pre>\n`;

export function tooManyPage(seconds: number): Html {
  return renderPage('Too many attempts', 'bad', say(`Too many links that did not work came from your address. Try again in ${describeWait(seconds)}.`));
}

