"""Study: many sessions compared, and settings compared side by side (variants).

- `tables` (every session's summary per output kind, with its grouping columns; the variants'
  compared with the default run); their figures and page are `calcium.outputs.study_plots`
  and `calcium.outputs.study_page`
- `variants` (each variant's config: the config with its keys changed, checked)
"""

from calcium import lazy_api

API = {
    "study_tables": "tables",
    "variant_tables": "tables",
    "grouping_columns": "tables",
    "variant_configs": "variants",
}
__getattr__, __dir__ = lazy_api(__name__, API)
