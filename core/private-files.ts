/**
 * Files only their owner may read: `.clover/` (API key, tokens, local passwords, the agent
 * environment with AWS credentials, alert mail, demo logs) and agent journals (run outcomes and log
 * lines). Directories are 0700 and files 0600 when created; `mkdir`'s and `open`'s modes apply only
 * to what they create, so an install made before this rule (0755/0644) is tightened with chmod
 * (`privateDir`, `tightenTree`).
 */
import { chmod, type FileHandle, lstat, mkdir, open, readdir, rename } from 'node:fs/promises';
import { join } from 'node:path';

export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_DIR_MODE = 0o700;

/** Creates `dir` (and missing parents) 0700, and makes an existing `dir` 0700. */
export async function privateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  await chmod(dir, PRIVATE_DIR_MODE);
}

/** Opens `path` 0600 with `flags` ('a', 'w', 'wx'...), tightening a file that existed with a wider mode. */
export async function openPrivate(path: string, flags: string): Promise<FileHandle> {
  const handle = await open(path, flags, PRIVATE_FILE_MODE);
  try {
    await handle.chmod(PRIVATE_FILE_MODE);
  } catch (error) {
    await handle.close();
    throw error;
  }
  return handle;
}

/**
 * Replaces `path` with `text` atomically (a reader sees the old content or the new, never a torn
 * one), mode 0600: `<path>.tmp` written and fsync'd, then renamed over `path`. The caller fsyncs
 * the directory when the rename itself must survive a power loss (the journal does).
 * Hand-written rather than write-file-atomic: the agent bundle would carry it (and signal-exit) for
 * these few lines, and the journal relies on the fixed temp name to clean up after a crash.
 */
export async function writePrivateFile(path: string, text: string): Promise<void> {
  const temp = `${path}.tmp`;
  const handle = await openPrivate(temp, 'w');
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, path);
}

/**
 * Makes every directory under `root` (itself included) 0700 and every file 0600: an install older
 * than the rule keeps its 0644 mail, logs and env file otherwise. Symbolic links are left alone
 * (chmod would follow them out of the tree). A missing `root` is fine.
 */
export async function tightenTree(root: string): Promise<void> {
  const stat = await lstat(root).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (!stat || stat.isSymbolicLink()) return;
  const wanted = stat.isDirectory() ? PRIVATE_DIR_MODE : PRIVATE_FILE_MODE;
  if ((stat.mode & 0o777) !== wanted) await chmod(root, wanted);
  if (!stat.isDirectory()) return;
  for (const name of await readdir(root)) await tightenTree(join(root, name));
}
