/** Worker-thread entry for the postprocessing steps: one case (read, filter, write, score) per message. */
import { parentPort } from 'node:worker_threads';
import { serveJobs } from '../util/worker-pool.js';
import { runPostprocessJob } from './determine.js';

if (parentPort === null) throw new Error('postprocess-worker must run in a worker thread');
serveJobs(parentPort, runPostprocessJob);
