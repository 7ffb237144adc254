/**
 * A disk image that cannot be used as asked: bad or corrupt metadata, an unsupported
 * feature, a write to a read-only image. The message names the file and says what is
 * wrong; the CLI prints it as one line and exits with status 2.
 */
export class DiskError extends Error {
  override name = 'DiskError';
}

const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a component of the path is not a directory',
  EISDIR: 'is a directory',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long',
  EIO: 'input/output error',
  EFBIG: 'too large for the host filesystem',
  ENOSPC: 'no space left on the host filesystem',
  EDQUOT: 'disk quota exceeded on the host filesystem',
  EROFS: 'the host filesystem is read-only',
};

/** What a failed file-system call means to the user; undefined when it is no such call's error. */
export function explainErrno(e: unknown): string | undefined {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === undefined ? undefined : ERRNO_TEXT[code];
}

/**
 * What a host file error means, as one line naming the file: Node's own errors (an errno
 * from a syscall, a position or path Node refuses) are not for users to decode.
 */
export function asDiskError(file: string, e: unknown): DiskError {
  if (e instanceof DiskError) return e;
  const err = e as NodeJS.ErrnoException;
  const text = explainErrno(e) ?? (err.code === 'ERR_OUT_OF_RANGE' ? 'an offset beyond what the host can address (corrupt image?)'
    : err.code === 'ERR_INVALID_ARG_VALUE' ? 'not a usable file name' : err.message);
  return new DiskError(`${file}: ${text}`);
}

/** Runs `fn`, turning any host file error into a DiskError about `file`. */
export function withFileErrors<T>(file: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw asDiskError(file, e);
  }
}
