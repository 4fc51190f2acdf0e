"""Process-level settings for training and serving.

`reuse_freed_memory` sets glibc's `malloc` to keep freed tensor buffers for
reuse instead of giving them back to the system after every step, which saves
faulting them in again page by page (on a 2-core CPU, the speech-tagging
recipe's default run trained in 80.5 s instead of 152.8 s).

Two modules serve measurements (the study, the benchmarks) and are imported
by name, not exported here: `toolkit.runtime.timing` (`interleaved_timings`:
timed calls of several functions in interleaved rounds) and
`toolkit.runtime.machine` (`machine_info`: date, CPU, platform, backend and
package versions of a run).
"""

from toolkit.runtime.allocator import reuse_freed_memory

__all__ = ["reuse_freed_memory"]
