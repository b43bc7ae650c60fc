/** Worker-thread entry for evaluateFolder: scores one case per message. */
import { parentPort } from 'node:worker_threads';
import { serveJobs } from '../util/worker-pool.js';
import { runEvaluateJob } from './evaluator.js';

if (parentPort === null) throw new Error('evaluate-worker must run in a worker thread');
serveJobs(parentPort, runEvaluateJob);
