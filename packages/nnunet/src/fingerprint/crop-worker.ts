/** Worker-thread entry for cropTask: crops one case per message. */
import { parentPort } from 'node:worker_threads';
import { serveJobs } from '../util/worker-pool.js';
import { type CaseFiles, cropCaseFiles } from './crop-task.js';

if (parentPort === null) throw new Error('crop-worker must run in a worker thread');
serveJobs(parentPort, (job: { c: CaseFiles; out: string }) => cropCaseFiles(job.c, job.out));
