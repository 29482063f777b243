// The drainwatch agent: a reverse proxy in front of the app port that witnesses the pod's
// termination and publishes it to NATS JetStream.
export {
  type Agent,
  type AgentDeps,
  type AgentState,
  type AgentStopOptions,
  createAgent,
  type PrestopResult,
} from './agent.js';
export {
  AGENT_DEFAULTS,
  type AgentConfig,
  type AgentFlags,
  type AgentIdentity,
  formatHostPort,
  type HostPort,
  loadAgentConfig,
  parseHostPort,
  workloadOfPod,
} from './config.js';
export { AgentConfigError, AgentPortInUseError, AgentStateError } from './errors.js';
export { POD_HEADER, PROBE_HEADER } from './forwarding.js';
export { capYoungGeneration } from './heap.js';
export { decidePrestop, type PrestopDecision, type PrestopLimits } from './prestop.js';
export {
  type CloseInfo,
  createFrameReader,
  type FrameHeader,
  type FrameReader,
  type FrameReaderOptions,
  OPCODES,
} from './websocket-frames.js';
