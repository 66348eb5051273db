// One daemon in a process of its own, for the tests that run several at once or kill one with
// SIGKILL. Configuration comes from the environment as for bin/taskmasterd; argv[2] is a JSON
// object of StartOptions (throttle limits, mail lease) that only tests change.
import { readConfig } from '../../server/core/config.js';
import { startDaemon, type StartOptions } from '../../server/main.js';

const options = JSON.parse(process.argv[2] ?? '{}') as StartOptions;
const result = readConfig(['--port', '0'], process.env);
if (result.kind !== 'run') throw new Error('expected a run configuration');
const daemon = await startDaemon(result.config, options);
process.once('SIGTERM', () => void daemon.close().then(() => process.exit(0)));
