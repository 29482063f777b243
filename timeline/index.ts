// The rollout timeline (issue #21): a data model built from the collector's stored facts, drawn as
// a self-contained HTML page, an SVG for CI, or JSON for other tools. The CLI flags are in
// timeline/flags.ts, a light entry point of its own.
export { buildTimeline, buildTimelineRun, validateTimeline } from './build.js';
export { type TimelineChart, timelineOption } from './chart.js';
export { rehearsalTimelineWriter, writeTimelineFiles, writeVerifyTimeline } from './cli.js';
export { TimelineDataError, TimelineFetchError, TimelineNotFoundError } from './errors.js';
export { renderTimelineHtml } from './html.js';
export { mountTimelineRoutes } from './http.js';
export {
  type Bucket,
  type FailureMark,
  type InFlightRequest,
  LANE_MARKS,
  LANE_PHASES,
  type LaneMark,
  type LanePhase,
  type PodLane,
  TIMELINE_VERSION,
  type Timeline,
  type TimelineRun,
  timelineSchema,
  type WebsocketClose,
} from './model.js';
export { httpTimelineSource, storeTimelineSource, type TimelineSource } from './source.js';
export { renderTimelineSvg, SVG_COLUMN_WIDTH } from './svg.js';
