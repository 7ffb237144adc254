/**
 * A disk image that cannot be used as asked: bad or corrupt metadata, an unsupported
 * feature, a write to a read-only image. The message names the file and says what is
 * wrong; the CLI prints it as one line and exits with status 2.
 */
export class DiskError extends Error {
  override name = 'DiskError';
}
