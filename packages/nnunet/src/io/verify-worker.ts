/** Worker-thread entry for verifyDatasetIntegrity: checks one case per message. */
import { parentPort } from 'node:worker_threads';
import { serveJobs } from '../util/worker-pool.js';
import { type CaseCheck, checkCase } from './verify.js';

if (parentPort === null) throw new Error('verify-worker must run in a worker thread');
serveJobs(parentPort, (job: CaseCheck) => checkCase(job));
