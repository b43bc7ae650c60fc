/**
 * Data-parallel communication on PyTorch's c10d (torch.distributed's engine): processes meet
 * through a store (a TCPStore served by rank 0, or a FileStore on a shared file system), form a
 * process group (Gloo on the CPU; NCCL when LibTorch was built with CUDA and NCCL) and run
 * collectives on tensors in place. Every collective returns a Work; `wait()` blocks until it is
 * done and throws a TorchError naming the rank when it failed or timed out (a peer that died
 * makes the others fail within the group's timeout instead of hanging).
 */
import { argError, TorchError } from './errors.js';
import { native } from './native.js';
import { handleOf, handles, type Tensor } from './tensor.js';

export type Backend = 'gloo' | 'nccl';
export type ReduceOp = 'sum' | 'avg' | 'max' | 'min' | 'product';

export interface ProcessGroupOptions {
  backend?: Backend;
  rank: number;
  worldSize: number;
  /** Where the processes meet: rank 0 serves a TCPStore at host:port, or all use one file. */
  store: { tcp: { host: string; port: number } } | { file: string };
  /** How long a collective (and the rendezvous) may take before it fails; default 30 minutes, as torch.distributed. */
  timeoutMs?: number;
  /**
   * Gloo's network device: a host name or address whose interface to use, or an interface name
   * (GLOO_SOCKET_IFNAME's meaning). Default: the interface of the store's host when it is this
   * machine's loopback, else the machine's host name.
   */
  glooDevice?: { host: string } | { interface: string };
}

const DEFAULT_TIMEOUT_MS = 30 * 60 * 1000;

/** Re-throws a native failure with `context` (which rank, which group) in front of LibTorch's words. */
function rethrowNative(e: unknown, context?: string): never {
  if (!(e instanceof TorchError)) throw e;
  // The binding prefixes the op's name (distWait: ...); the native collectives already name the rank.
  const message = e.message.replace(/^dist\w+: /, '');
  throw new TorchError(
    e.code,
    context === undefined || message.startsWith('rank ') ? message : `${context}: ${message}`,
    {
      cause: e,
    },
  );
}

/** A pending collective. */
/** Whether this LibTorch has `backend` (Gloo always; NCCL in CUDA builds compiled with its headers). */
export function hasBackend(backend: Backend): boolean {
  return native.distHasBackend(backend);
}

export class Work {
  #id: number | null;
  constructor(
    id: number,
    private readonly after?: () => void,
  ) {
    this.#id = id;
  }
  /** Whether the operation has finished (successfully or not); false after wait(). */
  get completed(): boolean {
    return this.#id !== null && native.distIsCompleted(this.#id);
  }
  /** Blocks until the operation is done; throws naming the rank when it failed or timed out. */
  wait(): void {
    if (this.#id === null) throw argError('wait(): this operation was already waited for');
    const id = this.#id;
    this.#id = null;
    try {
      native.distWait(id);
    } catch (e) {
      rethrowNative(e);
    }
    this.after?.();
  }
  /** Resolves when the operation is done, letting the event loop run meanwhile (polls every `pollMs`). */
  async waitAsync(pollMs = 1): Promise<void> {
    while (this.#id !== null && !native.distIsCompleted(this.#id)) await new Promise((r) => setTimeout(r, pollMs));
    this.wait();
  }
}

export class ProcessGroup {
  #id: number | null;
  readonly rank: number;
  readonly size: number;
  readonly backend: Backend;

  /** Joins the group (blocks until all worldSize processes have joined or the timeout passes). */
  constructor(o: ProcessGroupOptions) {
    const backend = o.backend ?? 'gloo';
    if (!Number.isInteger(o.worldSize) || o.worldSize < 1)
      throw argError(`worldSize must be a positive integer, got ${o.worldSize}`);
    if (!Number.isInteger(o.rank) || o.rank < 0 || o.rank >= o.worldSize)
      throw argError(`rank must be an integer in 0..${o.worldSize - 1}, got ${o.rank}`);
    if (!native.distHasBackend(backend))
      throw argError(
        backend === 'nccl'
          ? "this addon has no NCCL backend (it needs a CUDA build of LibTorch and NCCL's headers): use 'gloo'"
          : "this addon was built without Gloo's headers, so without data-parallel training: install libgloo-dev (Debian) and rebuild (make build)",
      );
    const timeout = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const [kind, address, port] =
      'tcp' in o.store ? ['tcp', o.store.tcp.host, o.store.tcp.port] : ['file', o.store.file, 0];
    const loopback = kind === 'tcp' && /^(localhost|127\.\d+\.\d+\.\d+|::1)$/.test(address);
    const device =
      o.glooDevice === undefined
        ? loopback
          ? 'host:127.0.0.1'
          : ''
        : 'host' in o.glooDevice
          ? `host:${o.glooDevice.host}`
          : `if:${o.glooDevice.interface}`;
    try {
      this.#id = native.distCreateGroup(backend, kind, address, port, o.rank, o.worldSize, timeout, device);
    } catch (e) {
      rethrowNative(
        e,
        `rank ${o.rank} of ${o.worldSize} could not join the process group at ${address}${kind === 'tcp' ? `:${port}` : ''}`,
      );
    }
    this.rank = o.rank;
    this.size = o.worldSize;
    this.backend = backend;
  }

  #live(): number {
    if (this.#id === null) throw argError('the process group was destroyed');
    return this.#id;
  }

  /**
   * Reduces `t` element-wise over all ranks, in place on every rank. 'avg' is the sum divided by
   * the world size (Gloo has no average of its own). One tensor per call, as torch.distributed.
   */
  allReduce(t: Tensor, op: ReduceOp = 'sum'): Work {
    const id = this.#call(() => native.distAllReduce(this.#live(), handleOf('tensor', t), op === 'avg' ? 'sum' : op));
    return new Work(id, op === 'avg' ? () => void t.div_(this.size) : undefined);
  }

  /** Copies the root's `t` into `t` on every other rank. */
  broadcast(t: Tensor, root = 0): Work {
    return new Work(this.#call(() => native.distBroadcast(this.#live(), handleOf('tensor', t), root)));
  }

  /** Fills outputs[r] with rank r's `input` (outputs: one tensor per rank, input's shape and dtype). */
  allGather(outputs: readonly Tensor[], input: Tensor): Work {
    return new Work(
      this.#call(() => native.distAllGather(this.#live(), handles('outputs', outputs), handleOf('input', input))),
    );
  }

  /** Completes once every rank has called it. */
  barrier(): Work {
    return new Work(this.#call(() => native.distBarrier(this.#live())));
  }

  /** A string value in the group's store, visible to every rank (small metadata, not tensors). */
  setValue(key: string, value: string): void {
    this.#call(() => native.distStoreSet(this.#live(), key, value));
  }
  /** Waits (up to the timeout) until `key` is set by some rank and returns its value. */
  getValue(key: string): string {
    return this.#call(() => native.distStoreGet(this.#live(), key));
  }

  /**
   * Averages the gradients of `params` over the group after backward (DistributedDataParallel's
   * reduction, without overlapping backward): consecutive gradients of one dtype are packed into
   * buckets of about `bucketBytes`, each bucket all-reduced as one buffer, divided by the world
   * size and copied back. A parameter without a gradient counts as zeros on this rank (and gets one).
   */
  averageGradients(params: readonly Tensor[], bucketBytes = 25 * 1024 * 1024): void {
    if (!Number.isInteger(bucketBytes) || bucketBytes < 1)
      throw argError(`bucketBytes must be a positive integer, got ${bucketBytes}`);
    this.#call(() => native.distAverageGradients(this.#live(), handles('params', params), bucketBytes));
  }

  /** Leaves the group (its pending collectives must have been waited for). */
  destroy(): void {
    if (this.#id === null) return;
    native.distDestroyGroup(this.#id);
    this.#id = null;
  }

  #call<R>(fn: () => R): R {
    try {
      return fn();
    } catch (e) {
      return rethrowNative(e, `rank ${this.rank}`);
    }
  }
}
