from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/ingest.smk"
include: "workflow/rules/signal.smk"
include: "workflow/rules/deconvolution.smk"
include: "workflow/rules/events.smk"
include: "workflow/rules/population.smk"
include: "workflow/rules/stimulus.smk"
include: "workflow/rules/evaluation.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/browser.smk"
include: "workflow/rules/nwb.smk"
include: "workflow/rules/study.smk"


rule all:
    default_target: True
    input:
        get_final_output(),
    localrule: True
