"""Read specs (and policies) straight from git objects, so review never touches the user's checkout.

* :mod:`.repo`      - plain ``git`` commands: resolve refs, the default base, list trees, read many
                      blobs in one ``git cat-file --batch`` round trip.
* :mod:`.sources`   - the files of one *side* of a comparison (a commit's tree or the work tree),
                      each named by its git blob hash.
* :mod:`.blobcache` - parsed documents cached by blob hash, so the same file is parsed once per
                      process whatever the number of commits or sides that contain it.
* :mod:`.snapshot`  - one side loaded and validated into a :class:`~paybill.validate.index.SpecIndex`.
"""

from paybill.gitio.blobcache import BlobCache
from paybill.gitio.repo import GitError, GitRepo
from paybill.gitio.snapshot import Snapshot, load_snapshot
from paybill.gitio.sources import SourceFile, TreeSide, WorkTreeSide

__all__ = [
    "BlobCache",
    "GitError",
    "GitRepo",
    "Snapshot",
    "SourceFile",
    "TreeSide",
    "WorkTreeSide",
    "load_snapshot",
]
