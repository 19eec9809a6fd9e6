/**
 * Containers the harness started carry labels naming the run, the harness
 * process and the host, so they can be found again: a run's own at its end,
 * and a killed harness's at the next start.
 */
import { hostname } from 'node:os';
import { getContainerRuntimeClient } from 'testcontainers';
import { errorMessage } from '../../errors.js';
import { keepServerLog } from '../shared/server-log.js';
import { isAlive } from '../../support/processes.js';
import { containerLog, type ContainerRuntimeClient } from './runtime.js';

const LABEL = 'restore-drill';

/** The labels of a container started for `instance` of run `runId` by this harness process. */
export function labelsFor(runId: string, instance: string): Record<string, string> {
  return {
    [LABEL]: 'true',
    [`${LABEL}.run`]: runId,
    [`${LABEL}.pid`]: String(process.pid),
    [`${LABEL}.host`]: hostname(),
    [`${LABEL}.instance`]: instance,
  };
}

function withLabels(client: ContainerRuntimeClient, labels: string[]) {
  return client.container.dockerode.listContainers({ all: true, filters: { label: labels } });
}

/** Removes containers whose harness process on this host is gone. Returns their ids. */
export async function removeContainerLeftovers(client: ContainerRuntimeClient): Promise<string[]> {
  const removed: string[] = [];
  for (const { Id, Labels } of await withLabels(client, [`${LABEL}=true`])) {
    const pid = Number(Labels[`${LABEL}.pid`]);
    if (Labels[`${LABEL}.host`] !== hostname() || (pid && isAlive(pid))) continue;
    await client.container.getById(Id).remove({ force: true, v: true });
    removed.push(Id);
  }
  return removed;
}

/** The containers of a run, running or not (for tests and for people asking `docker ps -a`). */
export async function containersOfRun(runId: string): Promise<string[]> {
  return (await withLabels(await getContainerRuntimeClient(), [`${LABEL}.run=${runId}`])).map((c) => c.Id);
}

/** Removes the containers of one instance that failed to start, keeping their logs as evidence first. */
export async function removeFailedStart(client: ContainerRuntimeClient, runId: string, name: string, logDir: string): Promise<void> {
  for (const { Id } of await withLabels(client, [`${LABEL}.run=${runId}`, `${LABEL}.instance=${name}`])) {
    const log = await containerLog(client, Id).catch((error: unknown) => `(no log: ${errorMessage(error)})`);
    await keepServerLog(logDir, name, { text: log });
    await client.container.getById(Id).remove({ force: true, v: true });
  }
}
