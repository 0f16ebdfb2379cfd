// Colour contrast as WCAG 2.x defines it (relative luminance, contrast ratio), so that the brand
// colour of the hosted pages (GATEHOUSE_BRAND_COLOR) never makes their text unreadable: the text on
// a brand-coloured button is white or near-black, whichever stands out more, and the brand colour
// used as text is darkened until it reaches AA on the pages' white.

/** WCAG 2.x AA for normal text (success criterion 1.4.3). */
export const AA_CONTRAST = 4.5;

/** The pages' text colour, a near-black: the text on a light brand colour. */
export const NEAR_BLACK = '#1d2433';
/** Where the brand colour appears as text (a secondary button's label): inside `main`, on white. */
const PAGE_SURFACE = '#ffffff';

type Rgb = readonly [number, number, number];

/** `#rgb` or `#rrggbb` (the forms GATEHOUSE_BRAND_COLOR accepts) as 0–255 channels. */
export function parseHex(colour: string): Rgb {
  const hex = colour.replace(/^#/, '');
  const full = hex.length === 3 ? [...hex].map((digit) => digit + digit).join('') : hex;
  if (!/^[0-9a-f]{6}$/i.test(full)) throw new Error(`not a hex colour: ${colour}`);
  return [0, 2, 4].map((at) => Number.parseInt(full.slice(at, at + 2), 16)) as unknown as Rgb;
}

const toHex = (rgb: Rgb) => `#${rgb.map((channel) => Math.round(channel).toString(16).padStart(2, '0')).join('')}`;

/** WCAG 2.x relative luminance of an sRGB colour, 0 (black) to 1 (white). */
export function relativeLuminance(colour: string | Rgb): number {
  const [r, g, b] = (typeof colour === 'string' ? parseHex(colour) : colour).map((channel) => {
    const c = channel / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }) as unknown as Rgb;
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** WCAG 2.x contrast ratio of two colours, 1 to 21, whichever order they come in. */
export function contrastRatio(a: string | Rgb, b: string | Rgb): number {
  const [light, dark] = [relativeLuminance(a), relativeLuminance(b)].sort((x, y) => y - x) as [number, number];
  return (light + 0.05) / (dark + 0.05);
}

/** The colours the pages derive from the brand colour. */
export interface BrandPalette {
  /** The configured colour: the background of the main buttons. */
  brand: string;
  /** The text on it: white or near-black, whichever contrasts more; black for the mid-tones where neither reaches AA. */
  onBrand: string;
  /** The brand colour as text on the pages' white: the colour itself when it reaches AA, else darkened until it does. */
  brandText: string;
}

export function brandPalette(colour: string): BrandPalette {
  const brand = toHex(parseHex(colour));
  const [white, nearBlack] = [contrastRatio(brand, '#ffffff'), contrastRatio(brand, NEAR_BLACK)];
  let onBrand = white >= nearBlack ? '#ffffff' : NEAR_BLACK;
  // White or black always reaches 4.58:1 at worst; the near-black may not for a mid-tone colour.
  if (Math.max(white, nearBlack) < AA_CONTRAST) onBrand = '#000000';
  return { brand, onBrand, brandText: darkenUntilReadable(brand) };
}

/** Mixes the colour with black in steps of 5 % until it reaches AA on the pages' white (black is 21:1). */
function darkenUntilReadable(colour: string): string {
  const rgb = parseHex(colour);
  for (let step = 0; step <= 20; step++) {
    const mixed = rgb.map((channel) => Math.round(channel * (1 - step / 20))) as unknown as Rgb;
    if (contrastRatio(mixed, PAGE_SURFACE) >= AA_CONTRAST) return toHex(mixed);
  }
  return '#000000';
}
