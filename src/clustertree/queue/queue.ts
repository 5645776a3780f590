/**
 * The BullMQ queue and worker. Retries back off exponentially; completed job ids are kept
 * for ten minutes so the same event enqueued by another process within that window is a
 * no-op; a worker killed mid-job has its lock expire and the job runs again elsewhere.
 */
import { Queue, Worker, type Job, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { createRedis } from '../../common/redis.js';
import { errorFields, type Logger } from '../../common/logger.js';
import { QUEUE_NAME } from '../names.js';
import { jobId, type JobData } from './jobs.js';

export const JOB_OPTIONS: JobsOptions = {
  attempts: 10,
  backoff: { type: 'exponential', delay: 250 },
  removeOnComplete: { age: 600, count: 50_000 },
  removeOnFail: { age: 3_600 },
};

/** A BullMQ connection (maxRetriesPerRequest null, reconnecting forever). */
export const redisConnection = (url: string): Redis => createRedis(url, 'queue');

export class JobQueue {
  readonly queue: Queue<JobData>;
  private worker?: Worker<JobData>;

  constructor(
    private readonly redisUrl: string,
    private readonly log: Logger,
    readonly name = QUEUE_NAME,
    readonly prefix = 'bull',
  ) {
    this.queue = new Queue<JobData>(name, { connection: redisConnection(redisUrl), prefix });
    this.queue.on('error', (e) => log.debug('queue connection error', errorFields(e)));
  }

  /** Enqueue, never throwing: a lost enqueue is recovered by the reconcile that follows a Redis reconnect. */
  add(data: JobData, cause: string, opts: JobsOptions = {}): void {
    this.queue
      .add(data.type, data, { ...JOB_OPTIONS, ...opts, jobId: jobId(data, cause) })
      .catch((e: unknown) => {
        this.log.debug('enqueue failed', { job: jobId(data, cause), ...errorFields(e) });
      });
  }

  startWorker(concurrency: number, handle: (job: Job<JobData>) => Promise<void>): Worker<JobData> {
    this.worker = new Worker<JobData>(this.name, handle, {
      connection: redisConnection(this.redisUrl),
      prefix: this.prefix,
      concurrency,
      lockDuration: 10_000,
      stalledInterval: 5_000,
      maxStalledCount: 10,
    });
    this.worker.on('error', (e) => this.log.debug('worker connection error', errorFields(e)));
    this.worker.on('failed', (job, e) => {
      if (job && job.attemptsMade >= (job.opts.attempts ?? 1))
        this.log.warn('job failed for good', { job: job.id, ...errorFields(e) });
    });
    return this.worker;
  }

  /** Lets active jobs finish for a few seconds, then lets go of them: their locks expire and another worker redoes them. */
  async close(graceMs = 5_000): Promise<void> {
    if (this.worker) {
      const w = this.worker;
      const graceful = w.close().then(() => true);
      const timedOut = new Promise<boolean>((r) => setTimeout(() => r(false), graceMs).unref());
      if (!(await Promise.race([graceful, timedOut]))) await w.close(true).catch(() => undefined);
    }
    await this.queue.close().catch(() => undefined);
  }
}
