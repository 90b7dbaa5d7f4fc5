"""The study level (results/study/) and variants: settings compared side by side.

Each variant of config study.variants is this workflow again, as a Snakemake module with the
config and the variant's changes, its outputs under results/variants/<name>/ (replace_prefix)
and its rules named variant_<name>_<rule>. Without variants nothing here adds a job to the
default run; `snakemake study` builds the study (and the variants it compares).
"""

for VARIANT in VARIANTS:
    VARIANT_MODULE = f"variant_{VARIANT}"
    VARIANT_RULES = f"variant_{VARIANT}_"

    module:
        name: VARIANT_MODULE
        snakefile:
            "../../Snakefile"
        config:
            VARIANT_CONFIGS[VARIANT]
        replace_prefix:
            {"results/": f"results/variants/{VARIANT}/"}

    use rule * from VARIANT_MODULE exclude study, variants as VARIANT_RULES*


rule variants:
    input:
        [getattr(rules, f"variant_{variant}_all").input for variant in VARIANTS],
    localrule: True


rule study:
    input:
        unpack(study_inputs),
    output:
        **study_outputs(),
    log:
        "results/logs/study/study.log",
    benchmark:
        "results/benchmarks/study/study.tsv"
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=study_mem_mb,
        runtime=30,
    params:
        sessions=list(sessions.index),
        groups=session_groups(sessions, STUDY_GROUPS),
        indicators={s: str(sessions.loc[s, "indicator"]) for s in sessions.index},
        stimulus=[s for s in sessions.index if has_stimuli(s)],
        ground_truth=[s for s in sessions.index if sessions.loc[s, "ground_truth"]],
        variants={
            name: flat_changes(config["study"]["variants"][name]) for name in VARIANTS
        },
    script:
        "../../scripts/study.py"
