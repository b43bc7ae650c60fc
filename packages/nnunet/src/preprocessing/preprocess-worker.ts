/** Worker-thread entry for preprocessStages: preprocesses one case per message. */
import { parentPort } from 'node:worker_threads';
import { serveJobs } from '../util/worker-pool.js';
import { type CaseJob, preprocessCase } from './preprocess.js';

if (parentPort === null) throw new Error('preprocess-worker must run in a worker thread');
serveJobs(parentPort, (job: CaseJob) => preprocessCase(job));
