// Opens a timeline page from disk in Debian's chromium through playwright-core, with every request
// that is not file: recorded (and aborted): the page must need no network.

export const CHROMIUM = process.env.DRAINWATCH_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export async function launchChromium() {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/**
 * Loads `file` in a fresh page and waits for ECharts' first 'finished' event (data-rendered).
 * Returns the page, the non-file: URLs it asked for, what it drew (data-drawn) and the time from
 * navigation start to that event (ms, the page's own performance.now()), and chartMs, the part of
 * it after ECharts was loaded (data parsed, option built, chart drawn).
 */
export async function openTimeline(browser, file, { width = 1600, height = 900, timeoutMs = 30_000 } = {}) {
  const page = await browser.newPage({ viewport: { width, height } });
  const external = [];
  await page.route('**', (route) => {
    const url = route.request().url();
    if (url.startsWith('file:')) return route.continue();
    external.push(url);
    return route.abort();
  });
  const errors = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto(`file://${file}`);
  await page.waitForSelector('body[data-rendered="true"]', { timeout: timeoutMs });
  const body = await page.evaluate(() => ({ ...document.body.dataset }));
  return {
    page,
    external,
    errors,
    drawn: JSON.parse(body.drawn),
    renderMs: Number(body.renderMs),
    chartMs: Number(body.chartMs),
  };
}

/** Where (page px) the chart draws `value` ([x, y] in the axes of series `seriesId`). */
export function pixelOf(page, seriesId, value) {
  return page.evaluate(
    ({ seriesId, value }) => {
      const [px, py] = window.timelineChart.convertToPixel({ seriesId }, value);
      const box = document.getElementById('chart').getBoundingClientRect();
      return { x: box.left + px, y: box.top + py };
    },
    { seriesId, value },
  );
}
