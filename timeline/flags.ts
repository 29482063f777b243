import { Option } from 'commander';

// The timeline flags of `rehearse`, `verify` and `report`, one definition each. A light module of
// its own (commander only), so a command can declare them without loading ECharts or the
// collector before it runs (as `verify` defers its imports); timeline/index.ts does not re-export it.

/** Each flag: option name, flag, environment variable, help. */
export const TIMELINE_FLAGS = {
  html: {
    flag: '--html <file>',
    env: 'DRAINWATCH_TIMELINE_HTML',
    help: "write the rollout's timeline as one self-contained HTML page",
  },
  timelineJson: {
    flag: '--timeline-json <file>',
    env: 'DRAINWATCH_TIMELINE_JSON',
    help: 'write the timeline data (docs/timeline.md) as JSON',
  },
  timelineSvg: {
    flag: '--timeline-svg <file>',
    env: 'DRAINWATCH_TIMELINE_SVG',
    help: 'write the timeline as an SVG image (for CI summaries)',
  },
} as const;

export type TimelineFlags = { readonly [K in keyof typeof TIMELINE_FLAGS]?: string };

/** The commander option of one timeline flag. */
export function timelineFlag(name: keyof typeof TIMELINE_FLAGS): Option {
  const f = TIMELINE_FLAGS[name];
  return new Option(f.flag, f.help).env(f.env);
}

export function wantsTimeline(flags: TimelineFlags): boolean {
  return Boolean(flags.html || flags.timelineJson || flags.timelineSvg);
}
