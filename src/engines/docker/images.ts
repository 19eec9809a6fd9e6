/**
 * The container image, pinned in one place. Real users pull TimescaleDB's
 * image; machines without a registry build a local one with
 * scripts/docker/build-local-image.sh and name it with --image.
 */
export const DEFAULT_IMAGE = 'timescale/timescaledb:2.17.2-pg15';
const IMAGE_ENV = 'RESTORE_DRILL_IMAGE';
export const LOCAL_IMAGE = 'restore-drill/postgres:15-local';

export function defaultImage(): string {
  return process.env[IMAGE_ENV] ?? DEFAULT_IMAGE;
}
