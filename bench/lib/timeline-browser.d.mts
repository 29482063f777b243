import type { Browser, Page } from 'playwright-core';

export const CHROMIUM: string;
export const CHROMIUM_ARGS: readonly string[];

/** Debian's chromium through playwright-core, headless. */
export function launchChromium(): Promise<Browser>;

export interface DrawnRun {
  readonly lanes: number;
  readonly failures: number;
  readonly websocketCloses: number;
  readonly inFlight: number;
  readonly marks: number;
}

/** See timeline-browser.mjs. */
export function openTimeline(
  browser: Browser,
  file: string,
  options?: { width?: number; height?: number; timeoutMs?: number },
): Promise<{
  page: Page;
  external: string[];
  errors: string[];
  drawn: DrawnRun[];
  renderMs: number;
  chartMs: number;
}>;

/** Where (page px) the chart draws `value` ([x, y] in the axes of series `seriesId`). */
export function pixelOf(
  page: Page,
  seriesId: string,
  value: readonly unknown[],
): Promise<{ x: number; y: number }>;
