// The contrast arithmetic of WCAG 2.x, and the colours the hosted pages derive from a brand colour.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AA_CONTRAST, brandPalette, contrastRatio, NEAR_BLACK, parseHex, relativeLuminance } from '../../src/pages/contrast.ts';

const near = (actual: number, expected: number, digits = 2) => assert.equal(actual.toFixed(digits), expected.toFixed(digits), `${actual} is not ${expected}`);

describe('WCAG contrast', () => {
  it('gives the luminance of black, white and the primaries', () => {
    near(relativeLuminance('#000000'), 0, 4);
    near(relativeLuminance('#ffffff'), 1, 4);
    near(relativeLuminance('#ff0000'), 0.2126, 4);
    near(relativeLuminance('#00ff00'), 0.7152, 4);
    near(relativeLuminance('#0000ff'), 0.0722, 4);
    near(relativeLuminance('#808080'), 0.2159, 4);
  });

  it('gives the known ratios, in either order', () => {
    near(contrastRatio('#000000', '#ffffff'), 21);
    near(contrastRatio('#ffffff', '#000000'), 21);
    near(contrastRatio('#ffffff', '#ffffff'), 1);
    near(contrastRatio('#767676', '#ffffff'), 4.54); // the lightest grey that passes AA on white
    near(contrastRatio('#777777', '#ffffff'), 4.48); // and the one after it, which does not
    near(contrastRatio('#ff0000', '#ffffff'), 4);
    near(contrastRatio('#0000ff', '#ffffff'), 8.59);
    near(contrastRatio('#fff', '#000'), 21);
  });

  it('reads #rgb and #rrggbb and refuses anything else', () => {
    assert.deepEqual(parseHex('#2d5bd7'), [0x2d, 0x5b, 0xd7]);
    assert.deepEqual(parseHex('#fa0'), [0xff, 0xaa, 0x00]);
    assert.throws(() => parseHex('red'));
    assert.throws(() => parseHex('#12345'));
  });
});

describe('the brand palette', () => {
  it('keeps the default colour, with white text on it', () => {
    assert.deepEqual(brandPalette('#2d5bd7'), { brand: '#2d5bd7', onBrand: '#ffffff', brandText: '#2d5bd7' });
  });

  it('puts near-black text on a light colour, and darkens it where it is text', () => {
    const palette = brandPalette('#ffe600');
    assert.equal(palette.onBrand, NEAR_BLACK);
    assert.notEqual(palette.brandText, '#ffe600');
    assert.ok(contrastRatio(palette.brandText, '#ffffff') >= AA_CONTRAST);
  });

  it('reaches AA for every text on every colour of a coarse sweep of the sRGB cube, mid-tones included', () => {
    const steps = [0, 0x33, 0x66, 0x77, 0x88, 0x99, 0xcc, 0xff];
    for (const r of steps)
      for (const g of steps)
        for (const b of steps) {
          const colour = `#${[r, g, b].map((c) => c.toString(16).padStart(2, '0')).join('')}`;
          const { brand, onBrand, brandText } = brandPalette(colour);
          assert.ok(contrastRatio(brand, onBrand) >= AA_CONTRAST, `${onBrand} on ${colour}`);
          assert.ok(contrastRatio(brandText, '#ffffff') >= AA_CONTRAST, `${brandText} (from ${colour}) on white`);
        }
  });
});
