#!/usr/bin/env node
import { runOnOneDevice } from './multi-gpu.js';

await runOnOneDevice('nnUNet_train_DP');
