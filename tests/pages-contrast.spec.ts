// The hosted pages are readable whatever GATEHOUSE_BRAND_COLOR is: in Chromium, every text on the
// sign-in page (also with its error) and on a mailed link's page — buttons, labels, links, hints,
// errors, body text — reaches WCAG AA (4.5:1) against the background it is drawn on, for the default
// colour, a very light one and a very dark one. Also: every field has a label, and the keyboard
// reaches the sign-in fields in the order they are shown.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { call, registerUser } from './helpers/api.ts';
import { launchChromium, NO_BROWSER } from './helpers/browser.ts';
import { startHarness, type Harness } from './helpers/harness.ts';
import { authorizationRequest, discover, freePort, makeAdmin, registerClient } from './helpers/relying-party.ts';
import { AA_CONTRAST, contrastRatio } from '../src/pages/contrast.ts';

type Rgb = [number, number, number];

/**
 * Every visible element with text of its own, its text colour and the colour behind it, as Chromium
 * computes them (run in the page: a string, as the project's TypeScript has no DOM types).
 */
const TEXT_PAIRS = `(() => {
  const rgb = (value) => {
    const [r = 0, g = 0, b = 0, a = 1] = (value.match(/[\\d.]+/g) || []).map(Number);
    return { rgb: [r, g, b], alpha: a };
  };
  const behind = (element) => {
    for (let at = element; at; at = at.parentElement) {
      const background = rgb(getComputedStyle(at).backgroundColor);
      if (background.alpha > 0) return background.rgb;
    }
    return [255, 255, 255];
  };
  const pairs = [];
  for (const element of document.body.querySelectorAll('*')) {
    const ownText = [...element.childNodes].some((node) => node.nodeType === Node.TEXT_NODE && node.textContent.trim());
    const visible = element.getClientRects().length > 0 && getComputedStyle(element).visibility !== 'hidden';
    // Disabled controls are exempt from WCAG 1.4.3.
    if (!ownText || !visible || element.disabled) continue;
    const name = element.tagName.toLowerCase() + (element.className ? '.' + element.className : '');
    pairs.push({ what: name + ' "' + element.textContent.trim().slice(0, 30) + '"', text: rgb(getComputedStyle(element).color).rgb, background: behind(element) });
  }
  return pairs;
})()`;

/** The fields a person fills in that have no label. */
const UNLABELLED = `[...document.querySelectorAll('input:not([type=hidden]), select, textarea')].filter((field) => !(field.labels && field.labels.length) && !field.getAttribute('aria-label')).map((field) => field.outerHTML)`;

async function assertReadable(page: Page, where: string) {
  const pairs = (await page.evaluate(TEXT_PAIRS)) as { what: string; text: Rgb; background: Rgb }[];
  assert.ok(pairs.some((pair) => pair.what.startsWith('button')), `${where}: a button was checked`);
  for (const pair of pairs) {
    const ratio = contrastRatio(pair.text, pair.background);
    assert.ok(ratio >= AA_CONTRAST, `${where}: ${pair.what} is ${ratio.toFixed(2)}:1 (rgb ${pair.text} on rgb ${pair.background})`);
  }
}

async function assertLabelled(page: Page, where: string) {
  assert.deepEqual(await page.evaluate(UNLABELLED), [], `${where}: fields without a label`);
}

for (const colour of ['#2d5bd7', '#ffe600', '#0a0a14']) {
  describe(`the hosted pages are readable with GATEHOUSE_BRAND_COLOR=${colour}`, { skip: NO_BROWSER }, () => {
    let harness: Harness | undefined;
    let browser: Browser | undefined;
    let base = '';

    before(async () => {
      const port = await freePort();
      base = `http://127.0.0.1:${port}`;
      harness = await startHarness('embedded', { PUBLIC_URL: base, GATEHOUSE_BRAND_COLOR: colour });
      await harness.app.listen({ port, host: '127.0.0.1' });
      browser = await launchChromium();
    });

    after(async () => {
      await browser?.close();
      await harness?.close();
    });

    it('the sign-in page, before and after a wrong password: contrast, labels and focus order', async () => {
      const h = harness!;
      const admin = await makeAdmin(h.app, h.db);
      const redirect = 'http://127.0.0.1:9/callback';
      const client = await registerClient(h.app, admin.accessToken, { name: 'Notes', type: 'public', redirectUris: [redirect] });
      const { url } = await authorizationRequest(await discover(base, client), redirect);
      const page = await browser!.newPage();
      await page.goto(url.href);
      assert.equal(await page.textContent('h1'), 'Sign in');
      await assertReadable(page, 'sign-in');
      await assertLabelled(page, 'sign-in');

      // From the top of the page (a click on the heading moves where the keyboard starts from).
      await page.click('h1');
      const order: string[] = [];
      for (let step = 0; step < 3; step++) {
        await page.keyboard.press('Tab');
        order.push((await page.evaluate("document.activeElement.id || document.activeElement.textContent.trim()")) as string);
      }
      assert.deepEqual(order, ['email', 'password', 'Sign in']);

      await page.getByLabel('Email').fill(admin.email);
      await page.getByLabel('Password').fill('not the password at all');
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.waitForSelector('.outcome.error');
      await assertReadable(page, 'sign-in with an error');
      await page.close();
    });

    it('the page of a mailed reset link', async () => {
      const h = harness!;
      const user = await registerUser(h.app);
      assert.equal((await call(h.app, 'POST', '/auth/password/forgot', { body: { email: user.email } })).status, 202);
      let link: string | undefined;
      for (let attempt = 0; attempt < 100 && !link; attempt++) {
        const row = await h.db.selectFrom('outbox').select('text_body').where('recipient', '=', user.email).where('kind', '=', 'password_reset').executeTakeFirst();
        link = row && /https?:\/\/\S+\/reset-password\?token=[\w-]+/.exec(row.text_body)?.[0];
        if (!link) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const page = await browser!.newPage();
      await page.goto(link!);
      await page.waitForSelector('form');
      await assertReadable(page, 'reset link');
      await assertLabelled(page, 'reset link');
      await page.close();
    });
  });
}
