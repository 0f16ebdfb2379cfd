// The small HTML pages behind the links Gatehouse mails. No framework: a server-rendered page, one
// stylesheet and one script, both from this origin, under a Content-Security-Policy that allows
// nothing else. Every value placed in a page is escaped.
import { escapeHtml } from '../shared/html.ts';

export const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

export { escapeHtml };

export function page(title: string, body: string, { script = '/assets/pages.js' }: { script?: string } = {}): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)} · Gatehouse</title>
<link rel="stylesheet" href="/assets/pages.css">
<script src="${script}" defer></script>
</head>
<body>
<main>
<h1>${escapeHtml(title)}</h1>
${body}
</main>
</body>
</html>`;
}

/** An outcome with nothing left to do on the page: success, or a link that no longer works. */
export const outcome = (kind: 'ok' | 'error', message: string) => `<p class="outcome ${kind}" role="status">${escapeHtml(message)}</p>`;

export const PAGES_CSS = `
body{font-family:system-ui,-apple-system,sans-serif;background:#f4f6fb;color:#1d2433;margin:0}
main{max-width:420px;margin:10vh auto;background:#fff;padding:32px;border-radius:12px;box-shadow:0 2px 12px rgba(0,0,0,.08)}
h1{font-size:1.4rem;margin-top:0}
label{display:block;margin:16px 0 4px;font-weight:600}
input{width:100%;box-sizing:border-box;padding:10px;border:1px solid #c5cbd8;border-radius:6px;font-size:1rem}
button{margin-top:20px;width:100%;padding:12px;border:0;border-radius:6px;background:#2d5bd7;color:#fff;font-size:1rem;cursor:pointer}
button:disabled{opacity:.6}
.outcome{padding:12px;border-radius:6px}
.outcome.ok{background:#e7f6ec;color:#1e6b3a}
.outcome.error{background:#fdecec;color:#9b1c1c}
.field-error{color:#9b1c1c;font-size:.9rem;margin:4px 0 0}
.hint{color:#5b6478;font-size:.9rem;margin:8px 0 0}
h2{font-size:1.1rem;margin:28px 0 8px}
button.secondary{background:#fff;color:#2d5bd7;border:1px solid #2d5bd7}
button.inline{width:auto;margin:0 0 0 8px;padding:4px 10px;font-size:.9rem}
.qr{max-width:240px;margin:12px auto}
.qr svg{width:100%;height:auto}
.codes{font-family:ui-monospace,monospace;columns:2}
.passkeys{padding-left:1.2rem}
.passkeys li{margin:6px 0}
code{word-break:break-all}
@media (max-width:480px){main{margin:0;border-radius:0;padding:20px}}
[hidden]{display:none}
`;
