"""The ROI map figure: footprints over the mean image, coloured by ensemble (figures/roi_map.png)."""

from calcium.io import load_json, read_table
from calcium.logs import log_to
from calcium.outputs.plot_style import save_figure
from calcium.outputs.population_plots import roi_map_figure
from calcium.outputs.roimap import read_footprints, roi_colours

log = log_to(snakemake.log[0], snakemake.wildcards)
inputs = snakemake.input
facts = load_json(inputs.facts)
footprints = read_footprints(inputs.footprints)
n_rois = facts["n_neurons"]
colours, legend = roi_colours(n_rois, "ensemble", members=read_table(inputs.members))
title = f"session {snakemake.wildcards.session}: ROIs coloured by ensemble ({footprints.source})"
save_figure(roi_map_figure(footprints, n_rois, colours, legend, title), snakemake.output[0])
log.info("ROI map of %d ROIs, %d pixels (%s)", n_rois, footprints.roi.size, footprints.source)
