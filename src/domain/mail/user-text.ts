// Text that users wrote (an organisation's name, an inviter's, a role's) travels in mail Gatehouse
// sends to other people: a spammer who names an organisation "URGENT verify your account at http://…"
// must not get that read out in Gatehouse's name. In a subject, the line a mail client shows first,
// such text is cut short and loses anything that looks like a link; in a body it is shown whole, on
// one line, with its links made unclickable (and the HTML body escapes it).
import { LinkifyIt } from 'linkify-it';
import tlds from 'tlds' with { type: 'json' };

/** The longest user-given name in a subject, in characters. */
export const SUBJECT_NAME_LENGTH = 40;

// What a mail client would turn into a link: http(s), ftp and mailto URLs, `www.` hosts, e-mail
// addresses, IP addresses and bare domains under any real top-level domain.
const links = new LinkifyIt({ fuzzyLink: true, fuzzyEmail: true, fuzzyIP: true }).tlds(tlds);
/** A URL of any other scheme (steam://, hxxp://) and a `www.` host whatever follows: both read as links. */
const OTHER_LINKS = /(?:\b[a-z][a-z0-9+.-]*:\/\/|\bwww\.)\S*/giu;
/** The dots IDNA reads as a label separator, so that "evil。com" is a domain too. */
const IDEOGRAPHIC_DOTS = /[\u3002\uff0e\uff61]/gu;

/** One line of compatibility-normalised text: no line break can add a mail header or fake a paragraph. */
const oneLine = (value: string) => value.normalize('NFKC').replace(IDEOGRAPHIC_DOTS, '.').replace(/\s+/gu, ' ').trim();

/** The link-like stretches of `text`, as [start, end) pairs, in order and without overlaps. */
function linkSpans(text: string): Array<[number, number]> {
  const spans: Array<[number, number]> = (links.match(text) ?? []).map((match) => [match.index, match.lastIndex]);
  for (const match of text.matchAll(OTHER_LINKS)) spans.push([match.index, match.index + match[0].length]);
  spans.sort((a, b) => a[0] - b[0]);
  const merged: Array<[number, number]> = [];
  for (const span of spans) {
    const last = merged.at(-1);
    if (last && span[0] <= last[1]) last[1] = Math.max(last[1], span[1]);
    else merged.push([...span]);
  }
  return merged;
}

/** Replaces each link-like stretch of `text` with what `change` makes of it. */
function replaceLinks(text: string, change: (link: string) => string): string {
  let result = '';
  let at = 0;
  for (const [start, end] of linkSpans(text)) {
    result += text.slice(at, start) + change(text.slice(start, end));
    at = end;
  }
  return result + text.slice(at);
}

/** At most `max` characters (code points, so no emoji is split), with an ellipsis when cut. */
function cut(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('').trimEnd()}…`;
}

/**
 * A user-given name for a subject: one line, at most `max` characters, nothing link-like left (the
 * cut comes first, so that cutting cannot make a new domain out of a longer word), or `fallback`
 * when nothing is left.
 */
export function subjectName(value: string, { fallback, max = SUBJECT_NAME_LENGTH }: { fallback: string; max?: number }): string {
  const text = replaceLinks(cut(oneLine(value), max), () => ' ')
    .replace(/\s+/gu, ' ')
    .trim();
  return /[\p{L}\p{N}]/u.test(text) ? text : fallback;
}

/** A user-given name for a body: one line, whole, its links defanged ("evil[.]com", "https[:]//…") so that no client links them. */
export function bodyName(value: string): string {
  return replaceLinks(oneLine(value), (link) => link.replaceAll('.', '[.]').replaceAll('://', '[:]//').replaceAll('@', '[at]'));
}
