"""The machine a run trains on: what decides the last bits of its numbers.

Training a spiking network is chaotic: one float32 rounding changed early
(another CPU's vector width, another order of the same sums) moves a run's
first-epoch errors by percents.  So a run's numbers can be re-derived bit
for bit only on a machine like the one that trained it, and every run
records that machine (`environment`) when its first epoch starts.
"""

import platform
from pathlib import Path

from spikelib.versions import package_versions

# Vector features of the CPU that change the code XLA generates.
_VECTOR_FLAGS = ("sse4_1", "sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw",
                 "avx512vl", "avx512dq", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16")
# What is said of a machine that no record names.
NOT_RECORDED = dict(machine=None, cpu="not recorded", vector_features=None, versions=None)


def environment():
    """What made (or re-derives) numbers here: CPU, vector features, packages."""
    model, flags = platform.processor(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and not flags:
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    return dict(machine=platform.machine(), cpu=model,
                vector_features=sorted(flags & set(_VECTOR_FLAGS)),
                versions=package_versions())


def same_machine(made, here):
    """Whether `here` generates the same code as `made` did (features and packages);
    False where `made` was not recorded."""
    return (made.get("machine") is not None and made["machine"] == here["machine"]
            and made["vector_features"] == here["vector_features"]
            and made["versions"] == here["versions"])
