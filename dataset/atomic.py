"""Atomic file writes: the one way this project replaces a file.

Everything is first written to a temporary file beside the target (same folder, so the rename
stays on one file system), then renamed onto it. A crash, a kill or a full disk while writing
leaves the previous file, if any, untouched, and no partial file behind.
"""

import contextlib
import os
import shutil
import uuid


@contextlib.contextmanager
def atomic_path(path):
    """Yield a fresh temporary path beside ``path``; rename it onto ``path`` if the block succeeds.

    The temporary name keeps ``path``'s extension (``.<name>.<random>.<ext>``), so tools that
    choose a format by extension (ffmpeg, ``np.save``) write the right one. The folder is
    created when missing. An existing ``path`` passes its permission bits on to the new file.
    If the block raises, the temporary file is removed and ``path`` is left as it was.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    name = os.path.basename(path)
    stem, ext = os.path.splitext(name)
    tmp = os.path.join(folder, f".{stem}.{uuid.uuid4().hex[:12]}{ext or '.tmp'}")
    os.makedirs(folder, exist_ok=True)
    try:
        yield tmp
        if os.path.exists(path):
            shutil.copymode(path, tmp)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


@contextlib.contextmanager
def atomic_paths(paths):
    """:func:`atomic_path` for several files: yield their temporary paths, rename all at the end.

    Every file is complete before the first rename, and the renames go in the order of
    ``paths``, so a kill leaves each path holding either its previous file or its new one (never
    a partial one); only the microseconds between renames can leave the first paths new and
    the last ones old.
    """
    with contextlib.ExitStack() as stack:
        # Entered last-first: the stack exits (renames) first-first.
        temps = [stack.enter_context(atomic_path(path)) for path in reversed(list(paths))][::-1]
        yield temps


@contextlib.contextmanager
def atomic_open(path, mode="w", **kwargs):
    """``open`` a temporary file beside ``path`` (mode ``"w"`` or ``"wb"``); rename on success."""
    with atomic_path(path) as tmp, open(tmp, mode, **kwargs) as handle:
        yield handle
        handle.flush()
        os.fsync(handle.fileno())
