// The drainwatch agent: a reverse proxy in front of the app port that witnesses the pod's
// termination and publishes it to NATS JetStream.
export { createAgent } from './agent.js';
export type { Agent, AgentDeps, AgentState, AgentStopOptions } from './agent-types.js';
export {
  AGENT_DEFAULTS,
  type AgentConfig,
  type AgentFlags,
  type AgentIdentity,
  loadAgentConfig,
  type PrestopWait,
  workloadOfPod,
} from './config.js';
export { AgentConfigError, AgentPortInUseError, AgentStateError } from './errors.js';
export { capYoungGeneration } from './heap.js';
export { createNatsConnector, type NatsConnector, type NatsConnectorOptions } from './nats-connection.js';
export { decidePrestop, type PrestopDecision, type PrestopLimits, type PrestopResult } from './prestop.js';
export {
  type CloseInfo,
  createFrameReader,
  type FrameHeader,
  type FrameReader,
  type FrameReaderOptions,
  NodeHttpParserChangedError,
  OPCODES,
  POD_HEADER,
  PROBE_HEADER,
} from './proxy/index.js';
export {
  createReplayedBatcher,
  createRequestBatcher,
  REQUEST_BATCH_MAX_BYTES,
  type ReplayedBatcher,
  type ReplayedEmit,
  type RequestBatcher,
  type RequestBatcherOptions,
  type TimedEmit,
} from './request-batcher.js';
export {
  createTermination,
  type ExitDetector,
  type SigtermOptions,
  type Termination,
  type TerminationOptions,
  type TerminationTraffic,
  type WatchedApp,
} from './termination.js';
export { type CancelTimer, type Clock, type Scheduler, systemClock, systemScheduler } from './time.js';
