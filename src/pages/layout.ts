// The small HTML pages behind the links Gatehouse mails. No framework: a server-rendered page, one
// stylesheet and one script, both from this origin, under a Content-Security-Policy that allows
// nothing else. Every value placed in a page is escaped.
import { escapeHtml } from '../shared/html.ts';
import { brandPalette } from './contrast.ts';

export { escapeHtml };

/** The name, logo and colour the pages show (GATEHOUSE_BRAND_*). */
export interface PageBrand {
  name: string;
  logoUrl: string | null;
  color: string;
}

const DEFAULT_BRAND: PageBrand = { name: 'Gatehouse', logoUrl: null, color: '#2d5bd7' };

/**
 * The policy of a page: its own script and styles, the brand's logo, and forms that post to this
 * origin — and, for a form whose answer redirects onwards (a sign-in back to its application), to
 * the origins named (browsers check form-action on every redirect of a submission).
 */
export function pageCsp(brand: PageBrand = DEFAULT_BRAND, formTargets: readonly string[] = []): string {
  const logo = brand.logoUrl ? URL.parse(brand.logoUrl)?.origin : undefined;
  const img = ["'self'", ...(logo ? [logo] : [])].join(' ');
  const forms = ["'self'", ...new Set(formTargets)].join(' ');
  return `default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src ${img}; form-action ${forms}; base-uri 'none'; frame-ancestors 'none'`;
}

/**
 * The brand's colours for the stylesheet (the colour was validated as hex when the configuration was
 * read): the colour, the text readable on it and its variant readable as text on the pages (WCAG AA).
 * Computed once, when the routes are registered.
 */
export function brandCss(brand: PageBrand): string {
  const { brand: colour, onBrand, brandText } = brandPalette(brand.color);
  return `:root{--brand:${colour};--on-brand:${onBrand};--brand-text:${brandText}}\n`;
}

export function page(title: string, body: string, brand: PageBrand = DEFAULT_BRAND, { script = '/assets/pages.js' }: { script?: string } = {}): string {
  const logo = brand.logoUrl ? `<img class="logo" src="${escapeHtml(brand.logoUrl)}" alt="" width="40" height="40">` : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)} · ${escapeHtml(brand.name)}</title>
<link rel="stylesheet" href="/assets/pages.css">
<link rel="stylesheet" href="/assets/brand.css">
<script src="${script}" defer></script>
</head>
<body>
<main>
<p class="brand">${logo}<span>${escapeHtml(brand.name)}</span></p>
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
button{margin-top:20px;width:100%;padding:12px;border:0;border-radius:6px;background:var(--brand,#2d5bd7);color:var(--on-brand,#fff);font-size:1rem;cursor:pointer}
button.secondary{background:#fff;color:#1d2433;border:1px solid #c5cbd8}
button:focus-visible,input:focus-visible,a:focus-visible{outline:3px solid #1d2433;outline-offset:2px}
.brand{display:flex;align-items:center;gap:8px;margin:0 0 16px;font-weight:600;color:#5b6478}
.logo{width:40px;height:40px;object-fit:contain}
ul.scopes{padding-left:20px}
.links{margin-top:20px;font-size:.95rem}
a{color:#1d3fa0}
@media (max-width:480px){main{margin:0;border-radius:0;box-shadow:none;padding:24px 16px;min-height:100vh;box-sizing:border-box}}
button:disabled{opacity:.6}
.outcome{padding:12px;border-radius:6px}
.outcome.ok{background:#e7f6ec;color:#1e6b3a}
.outcome.error{background:#fdecec;color:#9b1c1c}
.field-error{color:#9b1c1c;font-size:.9rem;margin:4px 0 0}
.hint{color:#5b6478;font-size:.9rem;margin:8px 0 0}
h2{font-size:1.1rem;margin:28px 0 8px}
button.secondary{background:#fff;color:var(--brand-text,#2d5bd7);border:1px solid var(--brand-text,#2d5bd7)}
button.inline{width:auto;margin:0 0 0 8px;padding:4px 10px;font-size:.9rem}
.qr{max-width:240px;margin:12px auto}
.qr svg{width:100%;height:auto}
.codes{font-family:ui-monospace,monospace;columns:2}
.passkeys{padding-left:1.2rem}
.passkeys li{margin:6px 0}
code{word-break:break-all}
@media (max-width:480px){main{margin:0;border-radius:0;padding:20px}}
[hidden]{display:none}
fieldset.choices{border:0;padding:0;margin:16px 0 0}
fieldset.choices legend{font-weight:600;padding:0;margin-bottom:8px}
.choice{display:flex;align-items:center;gap:10px;padding:10px;border:1px solid #c5cbd8;border-radius:6px;margin-top:8px}
.choice input{width:auto;margin:0;flex:none}
.choice label{margin:0;font-weight:400;flex:1;overflow-wrap:anywhere}
.choice .hint{margin:0 0 0 4px}
`;
