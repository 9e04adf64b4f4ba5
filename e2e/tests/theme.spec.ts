import type { Page } from '@playwright/test';
import { test, expect } from '../fixtures';

// The page needs a server, and the server a cluster: the smallest one.
test.use({ nodeCount: 1, cpus: 1, firstIp: 100, jobs: 1 });

// styles.css / theme.css: --bg of the light and the dark palettes (#f7f8fa, #0f1216)
const LIGHT_BG = 'rgb(247, 248, 250)';
const DARK_BG = 'rgb(15, 18, 22)';
const LIGHT_TEXT = 'rgb(27, 31, 36)'; // --text #1b1f24
const DARK_TEXT = 'rgb(230, 233, 238)'; // --text #e6e9ee

/** What the page looks like now, read in one evaluation: <html>'s data-theme and body's computed colours. */
const look = (page: Page) =>
  page.evaluate(() => {
    const body = getComputedStyle(document.body);
    return { theme: document.documentElement.getAttribute('data-theme'), bg: body.backgroundColor, text: body.color };
  });

const lightLook = (theme: string | null) => ({ theme, bg: LIGHT_BG, text: LIGHT_TEXT });
const darkLook = (theme: string | null) => ({ theme, bg: DARK_BG, text: DARK_TEXT });

test('the theme follows the system setting until the toggle picks light or dark, and the choice survives a reload', async ({ page, cluster }) => {
  cluster.openGate(); // the module's one job may go: the workload must not wait for a gate that never opens
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.goto(cluster.url);
  await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live');
  // the toggle's accessible name says the current choice (a three-way cycle, so no aria-pressed)
  const toggle = page.getByRole('button', { name: /^Theme: / });
  await expect(toggle).toHaveAccessibleName('Theme: system');
  await expect(toggle).toBeVisible();

  // "system": the media query decides, live, without a reload
  await expect.poll(() => look(page)).toEqual(darkLook(null));
  await page.emulateMedia({ colorScheme: 'light' });
  await expect.poll(() => look(page)).toEqual(lightLook(null));
  await page.emulateMedia({ colorScheme: 'dark' });
  await expect.poll(() => look(page)).toEqual(darkLook(null));

  // system → light: light although the system is dark, and it stays light when the system changes
  await toggle.click();
  await expect(toggle).toHaveAccessibleName('Theme: light');
  await expect.poll(() => look(page)).toEqual(lightLook('light'));
  await page.emulateMedia({ colorScheme: 'light' });
  await page.emulateMedia({ colorScheme: 'dark' });
  await expect.poll(() => look(page)).toEqual(lightLook('light'));

  // light → dark, with a light system
  await page.emulateMedia({ colorScheme: 'light' });
  await toggle.click();
  await expect(toggle).toHaveAccessibleName('Theme: dark');
  await expect.poll(() => look(page)).toEqual(darkLook('dark'));

  // the choice survives a reload (and a system that says light)
  await page.reload();
  await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live');
  await expect(toggle).toHaveAccessibleName('Theme: dark');
  await expect.poll(() => look(page)).toEqual(darkLook('dark'));

  // and a page opened later in the same browser starts from it too
  const other = await page.context().newPage();
  await other.emulateMedia({ colorScheme: 'light' });
  await other.goto(cluster.url);
  await expect(other.getByRole('button', { name: /^Theme: / })).toHaveAccessibleName('Theme: dark');
  await expect.poll(() => look(other)).toEqual(darkLook('dark'));
  await other.close();

  // dark → system: the system's setting again, and following it
  await toggle.click();
  await expect(toggle).toHaveAccessibleName('Theme: system');
  await expect.poll(() => look(page)).toEqual(lightLook(null));
  await page.emulateMedia({ colorScheme: 'dark' });
  await expect.poll(() => look(page)).toEqual(darkLook(null));

  // "system" survives a reload as well: no stored choice overrides a light system
  await page.emulateMedia({ colorScheme: 'light' });
  await page.reload();
  await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live');
  await expect(toggle).toHaveAccessibleName('Theme: system');
  await expect.poll(() => look(page)).toEqual(lightLook(null));
  await expect(page.getByRole('alert')).toHaveCount(0);
});
