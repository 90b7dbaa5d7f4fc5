"""The calcium-imaging analysis library: pure functions (arrays in, arrays out) by stage.

Subpackages, in the order a session flows through them:

- `calcium.input`: the session sheet and the readers of users' files (CSV, .npy, Suite2p, NWB)
- `calcium.signal`: per-neuron traces: ΔF/F, detrending, denoising, deconvolution, spike times
- `calcium.population`: events, features, coactivity and its null, ensembles
- `calcium.stimulus`: stimulus regressors, regression, trial-aligned responses
- `calcium.evaluation`: scoring against ground truth, expected accuracy
- `calcium.outputs`: figures, the session browser, the NWB file

Modules at this level serve every stage: `errors`, `io` (the workflow's own files), `logs`,
`progress`, `blocks` (per-neuron stages over blocks of neurons), `settings`, `synthetic`,
`config_reference`.

Each subpackage's public API is listed in its `API` and loaded lazily on first use, so that
importing one stage's function does not import another stage's dependencies (the rules' conda
environments hold only what their scripts use).
"""

from __future__ import annotations

import importlib


def lazy_api(package: str, api: dict[str, str]):
    """Module-level `__getattr__` and `__dir__` for a subpackage whose public names live in its
    modules: `api` maps each public name to the module (within `package`) that defines it."""

    def __getattr__(name: str):
        module = api.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    def __dir__():
        return sorted(api)

    return __getattr__, __dir__
