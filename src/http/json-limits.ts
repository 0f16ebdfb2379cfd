// A hostile JSON body is refused before it costs anything: one pass over the raw text, before
// JSON.parse, counts nesting, keys and array entries. Without it, 60,000 keys held the event loop for
// up to two seconds in parsing, validation and a 5 MB list of errors, and 10,000 nested arrays
// overflowed the stack of every recursive walk after the parser.
import type { JsonLimits } from '../config/config.ts';
import { AppError } from '../domain/errors.ts';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COLON = 0x3a;
const COMMA = 0x2c;

/**
 * The first limit the text goes over, as the error to answer with; null when it keeps every limit.
 * Time is linear in the text and memory in the depth limit. Text that is not JSON is left to the
 * parser: the scan only counts, so malformed input still gets its 400.
 */
export function jsonLimitExceeded(text: string, limits: JsonLimits): AppError | null {
  // Per open container (index: its depth): whether it is an object, and its keys (object) or commas
  // (array) so far. The depth limit bounds both.
  const isObject = new Uint8Array(limits.maxDepth + 1);
  const counts = new Uint32Array(limits.maxDepth + 1);
  let depth = 0;
  let keys = 0;
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const char = text.charCodeAt(i);
    if (char === QUOTE) {
      // Skip the string: find its closing quote, one not escaped by an odd run of backslashes.
      let end = text.indexOf('"', i + 1);
      while (end !== -1) {
        let slashes = 0;
        while (text.charCodeAt(end - 1 - slashes) === BACKSLASH) slashes++;
        if (slashes % 2 === 0) break;
        end = text.indexOf('"', end + 1);
      }
      if (end === -1) return null;
      i = end;
    } else if (char === OPEN_OBJECT || char === OPEN_ARRAY) {
      if (++depth > limits.maxDepth) return new AppError('JSON_TOO_DEEP', `The JSON body nests deeper than ${limits.maxDepth} levels`);
      isObject[depth] = char === OPEN_OBJECT ? 1 : 0;
      counts[depth] = 0;
    } else if (char === CLOSE_OBJECT || char === CLOSE_ARRAY) {
      if (depth > 0) depth--;
    } else if (char === COLON && depth > 0 && isObject[depth] === 1) {
      const inObject = (counts[depth] ?? 0) + 1;
      counts[depth] = inObject;
      if (inObject > limits.maxObjectKeys) return new AppError('JSON_OBJECT_TOO_LARGE', `An object in the JSON body has more than ${limits.maxObjectKeys} keys`);
      if (++keys > limits.maxKeys) return new AppError('JSON_TOO_MANY_KEYS', `The JSON body has more than ${limits.maxKeys} keys in all`);
    } else if (char === COMMA && depth > 0 && isObject[depth] === 0) {
      // n commas separate n + 1 entries.
      const commas = (counts[depth] ?? 0) + 1;
      counts[depth] = commas;
      if (commas + 1 > limits.maxArrayLength) return new AppError('JSON_ARRAY_TOO_LONG', `An array in the JSON body has more than ${limits.maxArrayLength} entries`);
    }
  }
  return null;
}
