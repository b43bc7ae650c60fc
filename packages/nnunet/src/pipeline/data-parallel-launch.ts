/**
 * How a data-parallel training finds its peers, with the variables users already set: torchrun's
 * (MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK, LOCAL_RANK) or, inside `srun`, Slurm's
 * (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, and the first host of SLURM_JOB_NODELIST as the
 * master when MASTER_ADDR is not set). And the local launcher behind nnUNet_train -num_gpus N /
 * nnUNet_train_DDP --nproc_per_node N: N copies of the same command on this machine, each with its
 * rank in those variables, signals passed on, the exit code of the group.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import { cuda, ProcessGroup } from '@nnunet/torch';
import { NnunetError } from '../errors.js';
import type { Env } from '../model/paths.js';

export interface DataParallelEnv {
  rank: number;
  worldSize: number;
  localRank: number;
  masterAddr: string;
  masterPort: number;
}

/** Exit code of a run stopped by SIGTERM/SIGUSR1 with a resumable checkpoint (sysexits' EX_TEMPFAIL). */
export const EXIT_INTERRUPTED = 75;
/** torchrun's default rendezvous port. */
export const DEFAULT_MASTER_PORT = 29500;
/** How long a collective may wait for the other ranks (NNUNET_DIST_TIMEOUT seconds overrides). */
const DEFAULT_TIMEOUT_S = 30 * 60;

function intVar(env: Env, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 0)
    throw new NnunetError('ERR_ARGUMENT', `${name}=${raw} is not a non-negative integer: fix or unset it.`);
  return v;
}

/**
 * The first host of a Slurm node list: "node[03-05,7],gpu1" -> "node03"; "a,b" -> "a". (Parsed by
 * hand: scontrol is not on every compute node's PATH and no npm package reads Slurm's syntax.)
 */
export function firstSlurmHost(nodeList: string): string {
  const m = /^([^,[]+)(\[([^\]]+)\])?/.exec(nodeList.trim());
  if (m === null) throw new NnunetError('ERR_ARGUMENT', `SLURM_JOB_NODELIST=${nodeList} is not a Slurm node list.`);
  const prefix = m[1] as string;
  if (m[3] === undefined) return prefix;
  const first = (m[3].split(',')[0] as string).split('-')[0] as string;
  return `${prefix}${first}`;
}

/** The data-parallel position of this process from its environment; null when it trains alone. */
export function dataParallelFromEnv(env: Env): DataParallelEnv | null {
  const worldSize = intVar(env, 'WORLD_SIZE') ?? intVar(env, 'SLURM_NTASKS');
  if (worldSize === undefined || worldSize <= 1) return null;
  const rank = intVar(env, 'RANK') ?? intVar(env, 'SLURM_PROCID');
  if (rank === undefined || rank >= worldSize)
    throw new NnunetError(
      'ERR_ARGUMENT',
      `WORLD_SIZE is ${worldSize} but RANK (or SLURM_PROCID) is ${rank ?? 'not set'}: start every process with its RANK in 0..${worldSize - 1} (torchrun and srun set it).`,
    );
  const nodeList = env.SLURM_JOB_NODELIST ?? env.SLURM_NODELIST;
  const masterAddr = env.MASTER_ADDR ?? (nodeList !== undefined ? firstSlurmHost(nodeList) : undefined);
  if (masterAddr === undefined)
    throw new NnunetError(
      'ERR_ARGUMENT',
      `WORLD_SIZE is ${worldSize} but MASTER_ADDR is not set: set it to the host of rank 0 (and MASTER_PORT, default ${DEFAULT_MASTER_PORT}).`,
    );
  return {
    rank,
    worldSize,
    localRank: intVar(env, 'LOCAL_RANK') ?? intVar(env, 'SLURM_LOCALID') ?? 0,
    masterAddr,
    masterPort: intVar(env, 'MASTER_PORT') ?? DEFAULT_MASTER_PORT,
  };
}

/**
 * Joins the group described by `dp` (rank 0 serves the TCPStore at MASTER_ADDR:MASTER_PORT). On
 * CUDA each rank of a machine takes its own GPU first (LOCAL_RANK), as NCCL needs.
 */
export function joinDataParallelGroup(dp: DataParallelEnv, env: Env, device: 'cpu' | 'cuda'): ProcessGroup {
  if (device === 'cuda') {
    const gpus = cuda.deviceCount();
    if (gpus < 1)
      throw new NnunetError('ERR_ARGUMENT', `rank ${dp.rank}: --device cuda, but this LibTorch sees no CUDA device.`);
    cuda.setDevice(dp.localRank % gpus);
  }
  const timeoutS = intVar(env, 'NNUNET_DIST_TIMEOUT') ?? DEFAULT_TIMEOUT_S;
  const iface = env.GLOO_SOCKET_IFNAME;
  return new ProcessGroup({
    backend: device === 'cuda' ? 'nccl' : 'gloo',
    rank: dp.rank,
    worldSize: dp.worldSize,
    store: { tcp: { host: dp.masterAddr, port: dp.masterPort } },
    timeoutMs: timeoutS * 1000,
    ...(iface !== undefined && iface !== '' ? { glooDevice: { interface: iface } } : {}),
  });
}

/** A free TCP port on the loopback interface (for a local group's store). */
export function freeLocalPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** This machine's part of a launch: torch.distributed.launch's --nproc_per_node, --nnodes, --node_rank. */
export interface LocalLaunch {
  processes: number;
  nodes?: number;
  nodeRank?: number;
}

/**
 * Runs `script args` as `processes` local ranks of a group of nodes x processes (RANK = node rank
 * x processes + local rank, LOCAL_RANK, WORLD_SIZE; MASTER_ADDR/MASTER_PORT: on one node
 * 127.0.0.1 and a free port unless set, on several the same values on every node, required;
 * OMP_NUM_THREADS = cores / processes unless set), passes SIGINT, SIGTERM and SIGUSR1 on to all of
 * them and resolves with this node's exit code: 0 when all succeeded, else rank 0's code when it
 * failed, else the first failing rank's.
 */
export async function launchLocalRanks(
  script: string,
  args: readonly string[],
  launch: LocalLaunch,
  env: Env,
): Promise<number> {
  const { processes } = launch;
  const nodes = launch.nodes ?? 1;
  const nodeRank = launch.nodeRank ?? 0;
  if (nodeRank >= nodes)
    throw new NnunetError('ERR_ARGUMENT', `--node_rank ${nodeRank} is not in 0..${nodes - 1} (--nnodes ${nodes}).`);
  if (nodes > 1 && (env.MASTER_ADDR === undefined || env.MASTER_ADDR === ''))
    throw new NnunetError(
      'ERR_ARGUMENT',
      `--nnodes ${nodes}: set MASTER_ADDR (the host of node 0) and MASTER_PORT (default ${DEFAULT_MASTER_PORT}) to the same values on every node.`,
    );
  const port =
    env.MASTER_PORT !== undefined ? Number(env.MASTER_PORT) : nodes > 1 ? DEFAULT_MASTER_PORT : await freeLocalPort();
  const threads = env.OMP_NUM_THREADS ?? String(Math.max(1, Math.floor(availableParallelism() / processes)));
  const children = Array.from({ length: processes }, (_, local) =>
    spawn(process.execPath, [script, ...args], {
      stdio: 'inherit',
      env: {
        ...env,
        RANK: String(nodeRank * processes + local),
        LOCAL_RANK: String(local),
        WORLD_SIZE: String(nodes * processes),
        MASTER_ADDR: env.MASTER_ADDR ?? '127.0.0.1',
        MASTER_PORT: String(port),
        OMP_NUM_THREADS: threads,
      },
    }),
  );
  // SIGTERM / SIGUSR1 (kill, Slurm's time limit through the job script's trap) go to this process
  // and are passed on. A terminal's Ctrl-C already reaches every rank (one process group), so
  // SIGINT is not passed on, only kept from ending the launcher before its ranks.
  const forward = (signal: NodeJS.Signals) => () => {
    for (const c of children) if (c.exitCode === null) c.kill(signal);
  };
  const handlers = [
    ['SIGTERM', forward('SIGTERM')],
    ['SIGUSR1', forward('SIGUSR1')],
    ['SIGINT', () => {}],
  ] as const;
  for (const [s, h] of handlers) process.on(s, h);
  try {
    const codes = await Promise.all(
      children.map(
        (c) =>
          new Promise<number>((resolve) => {
            c.on('close', (code, signal) => {
              const status = code ?? (signal === 'SIGKILL' ? 137 : 1);
              // A rank that failed (not one that was interrupted) leaves the others waiting for it
              // until the group's timeout: end them now; their last checkpoint is whole.
              if (status !== 0 && status !== EXIT_INTERRUPTED)
                for (const other of children) if (other !== c && other.exitCode === null) other.kill('SIGKILL');
              resolve(status);
            });
          }),
      ),
    );
    if (codes.every((c) => c === 0)) return 0;
    return (codes[0] as number) !== 0 ? (codes[0] as number) : (codes.find((c) => c !== 0) as number);
  } finally {
    for (const [s, h] of handlers) process.off(s, h);
  }
}
