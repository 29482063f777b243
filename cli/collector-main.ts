import { runCli } from './program.js';

// The collector image's entrypoint (manifests/images/collector.Dockerfile): the collector, and
// `report` for reading its reports from inside the pod (`kubectl exec`).
const code = await runCli(process.argv.slice(2), [
  ['collector', async () => (await import('./commands/collector.js')).createCollectorCommand()],
  ['report', async () => (await import('./commands/report.js')).createReportCommand()],
]);
process.exitCode = code;
