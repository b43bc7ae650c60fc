/** Worker-thread entry for ensembling: averages and exports one case per message (mergeCase). */
import { parentPort } from 'node:worker_threads';
import { serveJobs } from '../util/worker-pool.js';
import { mergeCase } from './ensemble.js';

if (parentPort === null) throw new Error('merge-worker must run in a worker thread');
serveJobs(parentPort, mergeCase);
