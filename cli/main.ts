#!/usr/bin/env node
import { ALL_COMMANDS } from './all-commands.js';
import { runCli } from './program.js';

const code = await runCli(process.argv.slice(2), ALL_COMMANDS);
// Long-running commands (agent, collector) resolve only when they have stopped; exitCode lets
// pending stdout drain before the process ends.
process.exitCode = code;
