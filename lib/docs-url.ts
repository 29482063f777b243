// Where drainwatch's documentation lives, for links that leave the terminal: alert runbook URLs,
// SARIF `helpUri`s, error hints. One base for all of them, so a team that mirrors the docs (or pins a
// release tag) changes one setting (DRAINWATCH_DOCS_URL) instead of every link.

/** The docs folder of the project's repository on its default branch; links end in `<page>.md#anchor`. */
export const DEFAULT_DOCS_BASE_URL = 'https://github.com/drainwatch/drainwatch/blob/main/docs/';

/** The environment variable that overrides {@link DEFAULT_DOCS_BASE_URL}. */
export const DOCS_URL_ENV = 'DRAINWATCH_DOCS_URL';

/**
 * An absolute link to a docs page and anchor, e.g. `docsUrl('alerts', 'drainwatchsessionslost')`.
 * `base` is an absolute URL of the docs folder (a trailing `/` is added when missing).
 */
export function docsUrl(page: string, anchor?: string, base: string = DEFAULT_DOCS_BASE_URL): string {
  const folder = base.endsWith('/') ? base : `${base}/`;
  return `${folder}${page}.md${anchor ? `#${anchor}` : ''}`;
}
