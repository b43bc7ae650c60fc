#!/usr/bin/env node
import { runDataParallel } from './multi-gpu.js';

await runDataParallel('nnUNet_train_DDP');
